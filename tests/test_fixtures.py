"""Every fixture under tests/fixtures/<CODE>/ through the engine, with only that rule selected.

- ``case.py`` + ``case.expected.py``: the rewrite must equal the expected file, which must
  compile, and a second pass over it must change nothing.
- ``case.py`` alone: must come out byte-identical.
- ``case.findings`` (optional): the exact findings, one ``line:col CODE fix applied`` per line.
  Without it, a no-op case must have no findings at all (near misses are silent).
- A file name containing ``unsafe`` runs with unsafe fixes enabled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ssot_codemod.engine import fix_source
from ssot_codemod.files import encode_source, read_source
from ssot_codemod.rules import select_rules

FIXTURES = Path(__file__).parent / "fixtures"


def _cases() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.py") if not p.name.endswith(".expected.py"))


def _findings_text(findings: tuple[object, ...]) -> str:
    return "".join(
        f"{f.line}:{f.column} {f.code} {f.fix} {'applied' if f.applied else 'reported'}\n"  # type: ignore[attr-defined]
        for f in findings
    )


@pytest.mark.parametrize("case", _cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(case: Path) -> None:
    code = case.parent.name.split("-")[0]
    rules = select_rules([code]) if code != "ALL" else select_rules()
    unsafe = "unsafe" in case.stem
    raw = case.read_bytes()
    source = read_source(raw)
    result = fix_source(source.text, rules=rules, unsafe_fixes=unsafe)
    out = encode_source(result.code, source)

    expected_path = case.with_name(case.stem + ".expected.py")
    findings_path = case.with_suffix(".findings")
    if expected_path.exists():
        expected = expected_path.read_bytes()
        assert out.decode(source.encoding, "replace") == expected.decode(source.encoding, "replace")
        assert out == expected
        compile(expected, str(expected_path), "exec", dont_inherit=True)
        again = fix_source(read_source(expected).text, rules=rules, unsafe_fixes=unsafe)
        assert not again.changed, "a second pass must change nothing"
        assert any(f.applied for f in result.findings)
    else:
        assert out == raw, "a case without .expected.py must stay byte-identical"
    if findings_path.exists():
        assert _findings_text(result.findings) == findings_path.read_text()
    elif not expected_path.exists():
        assert result.findings == (), "near misses must not be reported"


def test_every_rule_has_fixtures_and_noop_twins() -> None:
    for rule in select_rules():
        cases = [p for p in _cases() if p.parent.name.split("-")[0] == rule.code]
        positives = [p for p in cases if p.with_name(p.stem + ".expected.py").exists()]
        noops = [p for p in cases if p not in positives]
        assert positives, f"{rule.code} has no rewrite fixture"
        assert noops, f"{rule.code} has no no-op fixture"
