#!/usr/bin/env bash
# Every test of the book, in the order each stage needs the one before:
#   1. the library (pytest, property tests)
#   2. every chapter re-executed and compared with its stored outputs (nbval, strict),
#      with the per-chapter execution time printed
#   3. the HTML build, warnings as errors, rendering the outputs nbval just validated
#   4. the student edition (no solutions) and the PDF, built from the same stored
#      outputs, and their checks (tests/test_editions.py, marker `editions`)
#   5. the built HTML in headless Chromium: no request leaves the machine, math and
#      widgets render
#   6. the live notebook: JupyterLab from this environment, a chapter run and its
#      widget moved in headless Chromium (tests/test_jupyterlab.py, marker `jupyterlab`)
#   7. Binder: a fresh environment from environment.yml's pip section runs a chapter
#      under nbval (tests/test_binder.py, marker `binder`)
# Called by `make test` (which first creates the environment). Exits non-zero on the
# first failing stage; pytest's exit 5 ("no tests collected") is a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# (No MPLBACKEND here: chapter kernels must keep their inline backend, or figures vanish.)
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
start=$SECONDS
stage() { printf '\n==== %s (t = %ds) ====\n' "$1" $((SECONDS - start)); }

stage "1/7 library tests"
MPLBACKEND=Agg $BIN/python -m pytest tests -m "not browser and not editions and not jupyterlab and not binder" -n 2 -p no:cacheprovider

stage "2/7 chapters: nbval, strict"
$BIN/python -m pytest --nbval book -n 2 --dist loadfile -p no:cacheprovider \
    --nbval-sanitize-with tests/nbval_sanitize.cfg -p tests.nbval_timing

stage "3/7 HTML build, warnings as errors (stored outputs, no re-execution)"
rm -rf _build/html
$BIN/python scripts/config_noexec.py _config.yml _build/_config_noexec.yml
$BIN/jupyter-book build . --config _build/_config_noexec.yml -W -n --keep-going

stage "4/7 student edition and PDF (stored outputs, no re-execution)"
bash scripts/install_chromium.sh
bash scripts/install_poppler.sh
$BIN/python scripts/build_student.py
$BIN/python scripts/build_pdf.py
$BIN/python -m pytest tests -m editions -p no:cacheprovider

stage "5/7 built HTML in headless Chromium"
bash scripts/install_chromium.sh
$BIN/python -m pytest tests -m browser -p no:cacheprovider

stage "6/7 the live notebook in JupyterLab (headless Chromium)"
$BIN/python -m pytest tests -m jupyterlab -p no:cacheprovider

stage "7/7 Binder: a fresh environment from environment.yml runs a chapter"
$BIN/python -m pytest tests -m binder -p no:cacheprovider -s

stage "all stages passed"
