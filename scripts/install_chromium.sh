#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for tests/test_browser.py.
#
# Why Debian's package: the browser test must not download anything at run time
# (no `playwright install`), and the package comes from the same apt sources as the
# rest of the system. Called by scripts/run_tests.sh before the browser stage.
#   - already installed: nothing to do;
#   - running as root: install it with apt-get;
#   - otherwise: say how to install it. Under CI (env CI set) that is an error,
#     since the browser test would then fail; locally it is not, and the test skips
#     with a reason.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "install_chromium: $CHROMIUM missing; installing Debian's chromium package"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    test -x "$CHROMIUM" || { echo "install_chromium: apt-get installed chromium but $CHROMIUM is still missing" >&2; exit 1; }
    exit 0
fi

msg="install_chromium: $CHROMIUM is missing and this is not root, so it cannot be installed here.
Install it with: sudo apt-get update && sudo apt-get install -y chromium"
if [ -n "${CI:-}" ]; then
    echo "$msg" >&2
    echo "install_chromium: CI is set, so the browser test cannot run: failing." >&2
    exit 1
fi
echo "$msg" >&2
echo "install_chromium: continuing; tests/test_browser.py will skip with this reason." >&2
exit 0
