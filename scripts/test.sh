#!/usr/bin/env bash
# The test command (README, .ci/run): install the browser the UI tests drive when it is
# missing (Debian: apt-get, needs root), then install the package with its test extras and run pytest on two workers (pytest-xdist).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium
fi
pip install -q -c constraints.txt ".[test]" && pytest -q -n 2
