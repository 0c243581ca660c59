#!/usr/bin/env bash
# Check the course on Python 3.12 and 3.13 (pyenv's builds) in scratch venvs outside the repository:
# the pins resolve and install, course_utils imports, and the whole test suite passes.
# Not part of CI: without a reachable CPU index, torch for these versions comes from PyPI (the CUDA build, GBs).
# Usage: tools/check_pythons.sh [PYENV_ROOT]   (logs and venvs in $SCRATCH, default /tmp/course-pythons)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pyenv_root=${1:-$(pyenv root)}
scratch=${SCRATCH:-/tmp/course-pythons}
mkdir -p "$scratch"
cd "$root"
for version in 3.12 3.13; do
  python=$(ls -d "$pyenv_root"/versions/"$version".*/bin/python3 | sort -V | tail -n 1)
  venv=$scratch/py$version
  echo "== Python $version ($python): $venv"
  "$python" tools/setup_venv.py "$venv" requirements.txt requirements-test.txt
  "$venv/bin/python" -c "import course_utils, sys, torch; print('imports on', sys.version.split()[0], 'torch', torch.__version__)"
  "$venv/bin/python" -m pytest -q 2>&1 | tee "$scratch/pytest-$version.log" | tail -n 5
done
