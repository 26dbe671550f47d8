#!/usr/bin/env bash
# Make sure poppler's pdftoppm and pdfinfo are on PATH for tests/test_editions.py,
# which renders pages of the book's PDF to PNG and counts its pages.
#
# Same policy as scripts/install_chromium.sh, and for the same reason (nothing is
# downloaded at test time except Debian packages from the system's apt sources).
# Called by scripts/run_tests.sh before the "student edition and PDF" stage.
#   - already installed: nothing to do;
#   - running as root: install Debian's poppler-utils with apt-get;
#   - otherwise: say how to install it. Under CI (env CI set) that is an error, since
#     the PDF test would then fail; locally it is not, and the PDF checks skip.
set -euo pipefail

if command -v pdftoppm >/dev/null 2>&1 && command -v pdfinfo >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "install_poppler: pdftoppm/pdfinfo missing; installing Debian's poppler-utils package"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils
    command -v pdftoppm >/dev/null 2>&1 || { echo "install_poppler: apt-get installed poppler-utils but pdftoppm is still missing" >&2; exit 1; }
    exit 0
fi

msg="install_poppler: pdftoppm is missing and this is not root, so it cannot be installed here.
Install it with: sudo apt-get update && sudo apt-get install -y poppler-utils"
if [ -n "${CI:-}" ]; then
    echo "$msg" >&2
    echo "install_poppler: CI is set, so the PDF test cannot run: failing." >&2
    exit 1
fi
echo "$msg" >&2
echo "install_poppler: continuing; the PDF checks in tests/test_editions.py will skip." >&2
exit 0
