"""pytest plugin: print how long each chapter took to execute under nbval.

nbval runs every cell as a test item; this sums the items' durations per notebook
and prints a table at the end (the book's budget: under 3 minutes per chapter on
2 cores). Loaded with ``-p tests.nbval_timing`` by scripts/run_tests.sh.
"""
from collections import defaultdict

BUDGET_S = 180.0
_seconds = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    tr = terminalreporter
    tr.section("chapter execution times (nbval)")
    for path, sec in sorted(_seconds.items()):
        flag = "" if sec <= BUDGET_S else f"   OVER the {BUDGET_S:.0f} s budget"
        tr.write_line(f"{sec:8.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_seconds.values()):8.1f} s  total")
