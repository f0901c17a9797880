"""``[tool.ssot-codemod]`` in ``pyproject.toml``: where it is found and what it may contain.

Like ruff, the configuration is the nearest ``pyproject.toml`` *that has our table*, searching
from the first PATH (or the current directory) upwards. Keys use the CLI's spelling
(``unsafe-fixes``, ``helper-module``); anything unknown or of the wrong type is an error that
names the key and the file, so a typo never silently changes what a CI gate checks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on the 3.9/3.10 matrix
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["ConfigError", "TABLE", "find_config", "load_config", "is_dotted_name"]

TABLE = "ssot-codemod"

_LIST_KEYS = ("select", "ignore", "exclude", "extend-exclude", "src")
_BOOL_KEYS = ("unsafe-fixes", "force-exclude")
_STR_KEYS = ("helper-module",)
_SECONDS_KEYS = ("file-timeout",)  # a number >= 0; 0 means no limit
_PATH_KEYS = ("cache-dir",)  # relative to the directory of the pyproject.toml
KNOWN_KEYS: tuple[str, ...] = (*_LIST_KEYS, *_BOOL_KEYS, *_STR_KEYS, *_SECONDS_KEYS, *_PATH_KEYS)

# Linear by construction: `[A-Za-z0-9_]*` and `\.` are disjoint, and an attempt starts only
# where no name character precedes (were it ever searched instead of matched at 0, a long word
# would otherwise be rescanned from each of its characters).
_DOTTED = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class ConfigError(Exception):
    """A configuration problem; ``str(exc)`` is one line naming the file (and key)."""


def is_dotted_name(value: str) -> bool:
    """Whether *value* is a dotted Python module path such as ``tests.compat``."""
    return bool(_DOTTED.match(value))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
        return data
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: invalid TOML: {reason}") from None


def _our_table(data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    if not isinstance(tool, dict):
        return None
    return tool.get(TABLE)


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` at or above *start* with a ``[tool.ssot-codemod]`` table.

    Returns the file and its raw table, or None. A ``pyproject.toml`` without the table is
    passed over (ruff does the same); one that is not valid TOML is an error.
    """
    start = start.absolute()
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        if not candidate.is_file():
            continue
        table = _our_table(_read_toml(candidate))
        if table is not None:
            return candidate, table
    return None


def _validate(table: Any, path: Path) -> dict[str, Any]:
    where = f"{path}: [tool.{TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: '{key}' must be a list of strings")
            out[key] = [v.strip() for v in value if v.strip()]
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: '{key}' must be true or false")
            out[key] = value
        elif key in _STR_KEYS:
            if not isinstance(value, str) or not is_dotted_name(value):
                raise ConfigError(f"{where}: '{key}' must be a dotted module name")
            out[key] = value
        elif key in _SECONDS_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"{where}: '{key}' must be a number of seconds (0: no limit)")
            out[key] = float(value)
        elif key in _PATH_KEYS:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: '{key}' must be a non-empty path")
            out[key] = value
        else:
            known = ", ".join(KNOWN_KEYS)
            raise ConfigError(f"{where}: unknown key '{key}' (known keys: {known})")
    return out


def load_config(start: Path) -> tuple[dict[str, Any], Path | None]:
    """The validated ``[tool.ssot-codemod]`` settings found from *start*, and their file.

    Keys keep the TOML spelling (``select``, ``ignore``, ``exclude``, ``extend-exclude``,
    ``src`` (import roots, relative to the file, as in ruff), ``unsafe-fixes``, ``force-exclude``,
    ``helper-module``, ``file-timeout``, ``cache-dir``); only keys present in the file are returned.
    ``({}, None)`` when there is no configuration. Raises :class:`ConfigError`.
    """
    found = find_config(start)
    if found is None:
        return {}, None
    path, table = found
    return _validate(table, path), path
