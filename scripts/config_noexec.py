"""Write a copy of the book's _config.yml with notebook execution switched off.

Used by scripts/run_tests.sh: nbval has just re-executed every chapter and checked
that the stored outputs match, so the test build renders those outputs instead of
executing each chapter a second time.

Jupyter Book resolves the paths of `sphinx.local_extensions` relative to the config
file, so the copy has them rebased onto its own folder.

usage: python scripts/config_noexec.py SRC DEST
"""

import os
import sys

import yaml

from ddpm_ot_lib._io import atomic_open


def main(src: str, dest: str) -> None:
    with open(src) as fh:
        config = yaml.safe_load(fh)
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    local = (config.get("sphinx") or {}).get("local_extensions") or {}
    src_dir = os.path.dirname(os.path.abspath(src))
    dest_dir = os.path.dirname(os.path.abspath(dest))
    for name, path in local.items():
        local[name] = os.path.relpath(os.path.join(src_dir, path), dest_dir)
    with atomic_open(dest, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
