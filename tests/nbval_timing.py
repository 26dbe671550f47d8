"""pytest plugin: print how long each chapter took to execute under nbval.

nbval runs every cell as a test item; this sums the items' durations per notebook
and prints a table at the end (the book's budget: under 3 minutes per chapter on
2 cores). Loaded with ``-p tests.nbval_timing`` by scripts/run_tests.sh.

If the environment variable ``DDPM_OT_CHAPTER_TIMES`` names a file, the table is also
written there as JSON (atomically). The course page loads
``book/data/chapter_times.json``, written this way by
``DDPM_OT_CHAPTER_TIMES=book/data/chapter_times.json make test``.
"""

import datetime
import json
import os
import platform
from collections import defaultdict

BUDGET_S = 180.0
_seconds = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def _write_json(dest: str) -> None:
    record = {
        "seconds": {os.path.basename(p).removesuffix(".ipynb"): round(s, 1) for p, s in sorted(_seconds.items())},
        "measured_on": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "how": "nbval cell durations summed per chapter (tests/nbval_timing.py), make test",
    }
    tmp = dest + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(record, fh, indent=1)
    os.replace(tmp, dest)


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    tr = terminalreporter
    tr.section("chapter execution times (nbval)")
    for path, sec in sorted(_seconds.items()):
        flag = "" if sec <= BUDGET_S else f"   OVER the {BUDGET_S:.0f} s budget"
        tr.write_line(f"{sec:8.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_seconds.values()):8.1f} s  total")
    dest = os.environ.get("DDPM_OT_CHAPTER_TIMES")
    if dest:
        _write_json(dest)
        tr.write_line(f"written to {dest}")
