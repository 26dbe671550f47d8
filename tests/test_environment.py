"""The environment is one set of pins, written in four places that must agree.

pyproject.toml (what `make` installs), constraints.txt (the full frozen set pip is held
to), environment.yml (what Binder builds), and the README / .ci/run commands.
"""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _pins(data["dependencies"]), _pins(data["optional-dependencies"]["test"])


def _environment_yml():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return env, pip


def test_every_dependency_is_pinned_exactly():
    runtime, test = _pyproject()
    assert runtime["torch"] == "2.13.0"
    assert set(runtime).isdisjoint(test)


def test_environment_yml_pins_the_same_versions_as_pyproject():
    runtime, _ = _pyproject()
    env, pip = _environment_yml()
    assert "python=3.11" in env["dependencies"]
    assert _pins(pip) == runtime
    assert "-e ." in pip, "Binder must install ddpm_ot_lib itself"


def test_constraints_hold_every_pin_of_pyproject():
    runtime, test = _pyproject()
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in {**runtime, **test}.items():
        assert constraints.get(name) == version, f"{name}: pyproject {version}, constraints {constraints.get(name)}"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make book", "make test"]
    ci = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci[-1] == "exec make test"
