"""One call for the adoption steps after the root fix: quarantine, then guard.

For scripts such as the demo (``make demo``): the counts a person wants to see -- how many
async tests run now, how many were quarantined, what the guard wrote -- as one value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_codemod.guard import GuardChange, write_guard
from ssot_codemod.quarantine import QuarantineResult, quarantine_tests

__all__ = ["Adoption", "adopt"]


@dataclass(frozen=True)
class Adoption:
    """What :func:`adopt` did."""

    quarantine: QuarantineResult
    guard: tuple[GuardChange, ...]

    @property
    def async_tests_running(self) -> int:
        """Reported tests defined as ``async def``: after the root fix, they run."""
        return self.quarantine.async_tests or 0

    @property
    def quarantined(self) -> int:
        return self.quarantine.count("quarantined")

    @property
    def guard_entries(self) -> int:
        return sum(len(change.added) for change in self.guard)

    def summary(self) -> str:
        q = self.quarantine
        return (
            f"{self.async_tests_running} async tests now run; {self.quarantined} failing ones "
            f"quarantined ({q.markers} markers, baseline {q.baseline_total}), "
            f"{q.count('flaky')} flaky, {q.count('not-marked')} not marked, "
            f"{q.count('collection-error')} collection errors; guard: "
            f"{self.guard_entries} entries written"
        )


def adopt(
    paths: Sequence[Path],
    *,
    root: Path,
    command: str,
    guard_conftest: bool = False,
    dry_run: bool = False,
) -> Adoption:
    """After ``apply --unsafe-fixes``: quarantine what fails under *paths* when *command* (a
    pytest command line) runs in *root*, then write the guard into *root*'s pytest
    configuration. Raises :class:`~ssot_codemod.junit.JUnitError` or
    :class:`~ssot_codemod.guard.GuardError`."""
    result = quarantine_tests(paths, root=root, command=command, dry_run=dry_run, count_async=True)
    changes = write_guard(root, conftest=guard_conftest, dry_run=dry_run)
    return Adoption(result, tuple(changes))
