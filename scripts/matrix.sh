#!/usr/bin/env bash
# Run the test suite (without tests marked slow) under each requested CPython minor version.
# Interpreters are looked up as pythonX.Y on PATH, then under pyenv; a missing one is reported and
# fails the run on CI (CI=true), where every supported version must be exercised.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
missing=()
find_python() {
  local v=$1 candidate
  candidate=$(command -v "python$v" 2>/dev/null) && { echo "$candidate"; return 0; }
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  for candidate in $(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V -r); do
    [ -x "$candidate/bin/python" ] && { echo "$candidate/bin/python"; return 0; }
  done
  return 1
}
for v in "$@"; do
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
