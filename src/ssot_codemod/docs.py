"""Rule documentation, rendered from the rules' own metadata (the one renderer).

``ssot-codemod rules CODE`` prints :func:`render_rule` for one rule; ``docs/rules.md`` is
:func:`render_rules` for all of them (``python -m ssot_codemod.docs > docs/rules.md``, which is
what ``make docs`` runs). ``tests/test_docs.py`` fails when the committed file is stale.

Each rule gets the sections ruff's rule pages have: What it does, Why is this bad?, Example,
Use instead and Fix safety.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssot_codemod.rules.base import Rule

__all__ = ["FIX_SAFETY_TEXT", "SECTIONS", "main", "render_rule", "render_rules"]

#: The section headings of every rule, in order.
SECTIONS: tuple[str, ...] = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
)

FIX_SAFETY_TEXT: dict[str, str] = {
    "safe": "The fix is safe: `ssot-codemod apply` makes it by default, and it keeps the "
    "test's behaviour wherever the old code worked.",
    "unsafe": "The fix is unsafe: `ssot-codemod apply` makes it only with `--unsafe-fixes`, "
    "because it can change behaviour. Review the diff.",
    "none": "There is no automatic fix: the finding says what to change by hand.",
}


def _block(text: str) -> str:
    return text.strip("\n")


def fix_safety_text(rule: Rule) -> str:
    return FIX_SAFETY_TEXT.get(rule.fix_safety, rule.fix_safety)


def render_rule(rule: Rule, *, level: int = 1) -> str:
    """One rule as Markdown: a title at heading *level*, its sections one level below."""
    title = "#" * level
    section = "#" * (level + 1)
    return (
        f"{title} {rule.name} ({rule.code})\n\n"
        f"{section} What it does\n{_block(rule.summary)}\n\n"
        f"{section} Why is this bad?\n{_block(rule.why)}\n\n"
        f"{section} Example\n```python\n{_block(rule.example)}\n```\n\n"
        f"{section} Use instead\n```python\n{_block(rule.use_instead)}\n```\n\n"
        f"{section} Fix safety\n{fix_safety_text(rule)}\n"
    )


def _anchor(rule: Rule) -> str:
    """GitHub's anchor for the heading ``{name} ({code})``."""
    text = f"{rule.name} ({rule.code})".lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def render_rules(rules: Sequence[Rule] | None = None) -> str:
    """The whole ``docs/rules.md``: an index table, then every rule in code order."""
    if rules is None:
        from ssot_codemod.rules import ALL_RULES

        rules = ALL_RULES
    ordered = sorted(rules, key=lambda rule: rule.code)
    lines = [
        "# Rules\n",
        "\n",
        "<!-- Generated from the rules' own metadata by `make docs` "
        "(python -m ssot_codemod.docs); do not edit by hand. -->\n",
        "\n",
        "`ssot-codemod rules CODE` prints the same text for one rule.\n",
        "\n",
        "| Code | Name | Fix | Summary |\n",
        "|---|---|---|---|\n",
    ]
    for rule in ordered:
        summary = " ".join(rule.summary.split()).replace("|", "\\|")
        lines.append(
            f"| [{rule.code}](#{_anchor(rule)}) | {rule.name} | {rule.fix_safety} | {summary} |\n"
        )
    out = "".join(lines)
    for rule in ordered:
        out += "\n" + render_rule(rule, level=2)
    return out


def main() -> None:
    """Print ``docs/rules.md`` on stdout (UTF-8 whatever the locale)."""
    text = render_rules()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:  # pragma: no cover - a replaced stdout without a binary buffer
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
