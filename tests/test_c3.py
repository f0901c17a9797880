"""``analysis.c3_merge`` against Python's own method resolution order: random class hierarchies
(single and multiple inheritance, orders Python refuses), each class built with ``type``."""

from __future__ import annotations

import random

import pytest

from ssot_codemod.analysis import c3_merge


@pytest.mark.parametrize("seed", range(40))
def test_c3_merge_is_pythons_mro(seed: int) -> None:
    rng = random.Random(seed)
    classes: dict[str, type] = {}
    linear: dict[str, list[str]] = {}
    checked = refused = 0
    for number in range(30):
        name = f"C{number}"
        bases = rng.sample(sorted(classes), k=min(len(classes), rng.choice([0, 1, 1, 1, 2, 3])))
        expected: list[str] | None
        try:
            made = type(name, tuple(classes[b] for b in bases) or (object,), {})
        except TypeError:  # no consistent order: Python refuses the class
            expected = None
        else:
            expected = [c.__name__ for c in made.__mro__ if c is not object]
        sequences = [list(linear[b]) for b in bases] + [list(bases)]
        got = c3_merge(name, sequences)
        assert got == expected, (name, bases)
        if expected is None:
            refused += 1
        else:
            classes[name], linear[name] = made, expected
            checked += 1
    assert checked
