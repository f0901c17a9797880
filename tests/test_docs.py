"""The rules document themselves: docs/rules.md and ``rules CODE`` come from one renderer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirunner import separate_stderr_runner

from ssot_codemod.cli import cli
from ssot_codemod.docs import SECTIONS, render_rule, render_rules
from ssot_codemod.rules import ALL_RULES
from ssot_codemod.rules.base import Rule

ROOT = Path(__file__).resolve().parent.parent
RULES_MD = ROOT / "docs" / "rules.md"

RULE_IDS = [rule.code for rule in ALL_RULES]


def test_docs_rules_md_is_up_to_date() -> None:
    assert RULES_MD.is_file(), "docs/rules.md is missing: run `make docs`"
    committed = RULES_MD.read_text(encoding="utf-8")
    assert committed == render_rules(), "docs/rules.md is stale: run `make docs`"


def test_python_m_ssot_codemod_docs_prints_the_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ssot_codemod.docs"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.decode("utf-8") == render_rules()
    assert done.stderr == b""


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_every_rule_has_every_section_non_empty(rule: Rule) -> None:
    for attribute in ("code", "name", "summary", "why", "example", "use_instead", "fix_safety"):
        value = getattr(rule, attribute)
        assert isinstance(value, str) and value.strip(), f"{rule.code}.{attribute} is empty"
    assert re.fullmatch(r"SSC\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert rule.fix_safety in ("safe", "unsafe", "none")

    text = render_rule(rule)
    assert text.startswith(f"# {rule.name} ({rule.code})\n")
    bodies = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    headings = bodies[1::2]
    assert tuple(headings) == SECTIONS
    for heading, body in zip(headings, bodies[2::2]):
        assert body.strip(), f"{rule.code}: section {heading!r} is empty"
        assert body.strip() not in ("```python\n```", "```"), f"{rule.code}: empty {heading!r}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_examples_compile_and_differ(rule: Rule) -> None:
    compile(rule.example, f"<{rule.code} example>", "exec", dont_inherit=True)
    compile(rule.use_instead, f"<{rule.code} use_instead>", "exec", dont_inherit=True)
    assert rule.example.strip() != rule.use_instead.strip()


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_rules_code_prints_the_same_sections(rule: Rule) -> None:
    result = separate_stderr_runner().invoke(
        cli, ["rules", rule.code.lower()], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert result.stdout == render_rule(rule)
    # ... and docs/rules.md holds the same text, one heading level down.
    assert render_rule(rule, level=2) in render_rules()


def test_rules_md_lists_every_rule_once_in_code_order() -> None:
    text = render_rules()
    titles = re.findall(r"^## \S+ \((SSC\d{3})\)$", text, flags=re.MULTILINE)
    assert titles == sorted(RULE_IDS)
    for rule in ALL_RULES:
        assert f"| [{rule.code}](#" in text


def test_unknown_rule_code_is_a_usage_error() -> None:
    result = separate_stderr_runner().invoke(cli, ["rules", "SSC999"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "SSC001" in result.stderr
