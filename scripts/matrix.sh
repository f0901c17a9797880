#!/usr/bin/env bash
# Run the test suite (without tests marked slow) under each requested CPython minor version.
# Interpreters are looked up as pythonX.Y on PATH, then under pyenv; a missing one is reported and
# fails the run on CI (CI=true), where every supported version must be exercised.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
missing=()
find_python() {
  # pyenv installs first (their shims exist for versions that are not active, and fail), then
  # whatever pythonX.Y on PATH actually runs and reports that version.
  local v=$1 candidate
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  for candidate in $(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V -r); do
    [ -x "$candidate/bin/python" ] && { echo "$candidate/bin/python"; return 0; }
  done
  candidate=$(command -v "python$v" 2>/dev/null) || return 1
  [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ] \
    && { echo "$candidate"; return 0; }
  return 1
}
skip=""
if [ "${1:-}" = "--skip" ]; then skip=$2; shift 2; fi
for v in "$@"; do
  if [ "$v" = "$skip" ]; then echo "=== CPython $v: covered by the main run ==="; continue; fi
  py=$(find_python "$v") || { echo "matrix: no CPython $v found"; missing+=("$v"); continue; }
  venv=".venv-$v"
  echo "=== CPython $v ($py) ==="
  if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
    "$py" -m venv "$venv" && "$venv/bin/python" -m pip install -q --upgrade pip \
      && "$venv/bin/python" -m pip install -q -e '.[dev]' && touch "$venv/.installed" \
      || { failed+=("$v (install)"); continue; }
  fi
  "$venv/bin/pytest" -q -m "not slow" -p no:cacheprovider || failed+=("$v")
done
if [ ${#missing[@]} -gt 0 ] && [ "${CI:-}" = "true" ]; then
  failed+=("missing: ${missing[*]}")
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "matrix: FAILED on ${failed[*]}"
  exit 1
fi
echo "matrix: green on $* ${missing:+(not found here: ${missing[*]})}"
