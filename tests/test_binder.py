"""Binder for real: a fresh environment from environment.yml's pip section alone runs a
chapter under nbval.

Binder (repo2docker) creates a conda Python 3.11 from environment.yml and pip-installs
its `pip:` list in the staged repository, `-e .` included; nothing else of the project
(no constraints.txt, no test extras). A drift between that list and the pinned set the
chapters were validated with (a missing package, a pin that no longer resolves, a
transitive version that changes a stored output) shows up only there. So this test:
  1. copies the repository's tracked files to a temporary folder (the staged repository);
  2. creates a fresh virtual environment with this Python (3.11, like Binder's conda
     one) and pip-installs exactly the lines of environment.yml's pip section, in the
     copy (so `-e .` is that copy);
  3. adds only the test runner (pytest and nbval, at pyproject's pins) and runs
     `book/<CHAPTER>` under nbval, strict, with the book's sanitiser, in that
     environment (`--nbval-current-env`, so the kernel is the fresh Python).
It also checks that the launch buttons' repository URL is written in one place.

Slow (the install dominates; the run prints each phase's time): marker `binder`, a stage
of its own in scripts/run_tests.sh. pip uses whatever index the machine is configured
with (PIP_INDEX_URL, pip.conf). A request that fails is retried 3 times (pip's backoff:
under 2 s in all), so a dropped connection on a shared CI network does not fail the
stage, while an index that cannot be reached still fails it within minutes.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.binder

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "gaussian_toy.ipynb"
INSTALL_TIMEOUT_S = 1500
RUN_TIMEOUT_S = 600


def _pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))


def _test_runner_pins() -> list[str]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [req for req in extras["test"] if re.match(r"(pytest|nbval)==", req)]


def _stage_repository(dest: Path) -> None:
    """The tracked files of the repository (what Binder clones), copied to dest."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():  # a file deleted in the working tree is skipped
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _run(cmd, cwd, env, timeout, what):
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t
    print(f"[binder test] {what}: {took:.0f} s", file=sys.stderr, flush=True)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return took


def test_launch_repository_url_is_in_one_place():
    """The launch buttons' repository (Binder, the repository button) is _config.yml's
    `repository.url`, and no other tracked file spells it out (README says how to change it)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    slug = url.removeprefix("https://github.com/")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    holders = [
        rel
        for rel in files.split()
        if rel != "_config.yml"
        and not rel.endswith((".ipynb", ".pdf"))
        and (ROOT / rel).is_file()
        and slug in (ROOT / rel).read_text(errors="replace")
    ]
    assert holders == [], f"the repository URL {url} is also written in {holders}: keep it in _config.yml"


def test_pip_section_is_what_binder_installs():
    pip = _pip_section()
    assert "-e ." in pip
    assert all(line.startswith("-") or "==" in line for line in pip), "every package line must be pinned"


def test_chapter_runs_in_a_fresh_binder_environment(tmp_path):
    repo = tmp_path / "repo"
    _stage_repository(repo)
    env_dir = tmp_path / "binder-env"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    requirements = repo / "binder-requirements.txt"
    requirements.write_text("\n".join(_pip_section()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_CONSTRAINT")}
    env.update(
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        JUPYTER_PLATFORM_DIRS="1",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    pip = [str(python), "-m", "pip", "install", "--retries", "3", "--timeout", "30", "-q"]
    took = {
        "install": _run(
            pip + ["-r", requirements.name],
            repo,
            env,
            INSTALL_TIMEOUT_S,
            "pip install of environment.yml's pip section",
        )
    }
    took["test runner"] = _run(
        pip + _test_runner_pins(), repo, env, INSTALL_TIMEOUT_S, "pip install of pytest and nbval"
    )
    where = subprocess.run(
        [str(python), "-c", "import ddpm_ot_lib; print(ddpm_ot_lib.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(repo), f"ddpm_ot_lib imported from {where}, not the staged copy"
    took["nbval"] = _run(
        [
            str(python),
            "-m",
            "pytest",
            "--nbval",
            f"book/{CHAPTER}",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            "tests/nbval_sanitize.cfg",
            "-p",
            "no:cacheprovider",
            "-q",
            "-o",
            "addopts=",
        ],
        repo,
        env,
        RUN_TIMEOUT_S,
        f"nbval on book/{CHAPTER}",
    )
    print("[binder test] " + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()), file=sys.stderr)
