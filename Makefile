# The two commands a reader needs (README.md):
#   make book   create .venv, install the pinned environment and front-end assets,
#               execute every chapter and write the HTML to _build/html
#   make test   the same environment, then every test (library, notebooks, HTML, browser)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Chapters execute with one BLAS/OpenMP thread, as under `make test` (scripts/run_tests.sh):
# the stored outputs were produced and are validated that way, and on a busy 2-core
# machine (another process on one core) two BLAS threads made `make book` take 10 min
# instead of 1 min 46 s (Fokker-Planck chapter: 250 s instead of 16 s), measured.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: book test env clean student pdf homework

env: $(VENV)/.installed book/_vendor/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -c constraints.txt "torch==2.13.0"
	$(BIN)/python -m pip install -qq -c constraints.txt -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

book/_vendor/.installed: node_modules/.installed scripts/vendor_assets.py
	$(BIN)/python scripts/vendor_assets.py
	touch $@

book: env
	$(BIN)/jupyter-book build . -W -n --keep-going

test: env
	bash scripts/run_tests.sh

# The other editions (README.md, "Other editions"); both render the stored outputs
# without executing anything.
#   make student   the book without solutions: _build/student/html
#   make pdf       the whole book as one PDF: _build/pdf/ddpm-ot.pdf (headless Chromium)
student: env
	$(BIN)/python scripts/build_student.py

pdf: env
	bash scripts/install_chromium.sh
	$(BIN)/python scripts/build_pdf.py

# Autograded homework from the chapters' exercises (otter-grader, offline, no containers):
# _build/homework/<chapter>/{student,autograder}; grade with scripts/homework.py grade.
homework: env
	$(BIN)/python scripts/homework.py build

clean:
	rm -rf _build book/_vendor
