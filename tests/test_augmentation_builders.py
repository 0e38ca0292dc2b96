"""A check of the PatientFacts builders in tests/support/augmentation.py themselves."""
from __future__ import annotations

from datetime import date

from .support.augmentation import metastatic, osteoporotic


def test_builders_give_the_intended_patients():
    f = metastatic()
    assert f.metastatic_levels() == ["L1"]
    assert f.obs("pain-score", "L1").value == 6
    g = osteoporotic(days=10)
    assert g.conditions[0].onset == date(2026, 11, 13)
