"""Truth tables of the three-valued operators the rules combine facts with (Kleene logic):
unknown is never read as false."""
from __future__ import annotations

import itertools

import pytest

from spine_guideline.facts import Fact, tri_and, tri_not, tri_or

VALUES = (True, False, None)
AND = {(True, True): True, (True, False): False, (True, None): None,
       (False, True): False, (False, False): False, (False, None): False,
       (None, True): None, (None, False): False, (None, None): None}
OR = {(True, True): True, (True, False): True, (True, None): True,
      (False, True): True, (False, False): False, (False, None): None,
      (None, True): True, (None, False): None, (None, None): None}
NOT = {True: False, False: True, None: None}


@pytest.mark.parametrize("a,b", list(itertools.product(VALUES, VALUES)))
def test_and_or_truth_tables_on_values_and_on_facts(a, b):
    assert tri_and(a, b) is AND[(a, b)]
    assert tri_or(a, b) is OR[(a, b)]
    fa, fb = Fact("a", a), Fact("b", b)
    assert tri_and(fa, fb) is AND[(a, b)] and tri_or(fa, fb) is OR[(a, b)]
    assert tri_and(fa, b) is AND[(a, b)] and tri_or(a, fb) is OR[(a, b)]


@pytest.mark.parametrize("a", VALUES)
def test_not_truth_table(a):
    assert tri_not(a) is NOT[a] and tri_not(Fact("a", a)) is NOT[a]


def test_empty_and_wider_combinations():
    assert tri_and() is True and tri_or() is False  # the identities
    for values in itertools.product(VALUES, repeat=3):
        expected_and = False if False in values else None if None in values else True
        expected_or = True if True in values else None if None in values else False
        assert tri_and(*values) is expected_and and tri_or(*values) is expected_or
