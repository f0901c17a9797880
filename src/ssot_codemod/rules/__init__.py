"""The rule catalogue. Order matters only for planning: SSC004 claims functions first.

Importing it (and every rule: metadata, prefilters, ``analyze``) never imports LibCST; only
parsing a file does (``lazy_cst.py``), so a run that parses nothing never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssot_codemod.rules.base import Rule
from ssot_codemod.rules.ssc001_bridge import BridgeRule
from ssot_codemod.rules.ssc002_reentry import ReentryRule
from ssot_codemod.rules.ssc003_twin import TwinRule
from ssot_codemod.rules.ssc004_async_tests import AsyncTestNeverRunsRule
from ssot_codemod.rules.ssc005_isolated_bridge import IsolatedBridgeRule

ALL_RULES: tuple[Rule, ...] = (
    AsyncTestNeverRunsRule(),
    BridgeRule(),
    ReentryRule(),
    TwinRule(),
    IsolatedBridgeRule(),
)
RULES_BY_CODE = {rule.code: rule for rule in sorted(ALL_RULES, key=lambda r: r.code)}
KNOWN_CODES: tuple[str, ...] = tuple(RULES_BY_CODE)  # in code order, for messages and listings


def could_match(data: bytes, rules: Sequence[Rule] | None = None) -> bool:
    """False when no selected rule can possibly find anything in these bytes."""
    return any(rule.could_match(data) for rule in (ALL_RULES if rules is None else rules))


def _expand(codes: Sequence[str]) -> set[str]:
    chosen: set[str] = set()
    for raw in codes:
        code = raw.strip().upper()
        if not code:
            continue
        if code == "ALL":
            chosen.update(RULES_BY_CODE)
            continue
        matched = {c for c in RULES_BY_CODE if c.startswith(code)}
        if not matched:
            known = ", ".join(KNOWN_CODES)
            raise ValueError(f"unknown rule code {raw.strip()!r} (known: {known})")
        chosen |= matched
    return chosen


def select_rules(
    select: Sequence[str] | None = None, ignore: Sequence[str] | None = None
) -> list[Rule]:
    """Rules chosen by code prefixes (``SSC00`` selects all); raises ValueError on unknown codes."""
    chosen = _expand(select) if select else set(RULES_BY_CODE)
    chosen -= _expand(ignore or ())
    return [rule for rule in ALL_RULES if rule.code in chosen]


__all__ = ["ALL_RULES", "KNOWN_CODES", "RULES_BY_CODE", "Rule", "could_match", "select_rules"]
