#!/usr/bin/env bash
# Install what is needed (scripts/bootstrap.sh), then lint and run the whole test suite,
# GUI tests included, on a virtual X display. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks
status=0
xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
fi
exit "$status"
