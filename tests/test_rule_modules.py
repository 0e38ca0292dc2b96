"""Every DX/TX topic module names the rule IDs it implements (``RULES``), and
together they cover every DX/TX rule of the guideline."""
from __future__ import annotations

import importlib
import re

from spine_guideline import diagnosis, treatment

RULE_ID = re.compile(r"^(DX|TX)-\d+[a-f]?$")
EXPECTED = {"DX-1", "DX-2a", "DX-2b", "DX-2c", "DX-2d", "DX-2e", "DX-2f", "DX-3", "DX-4", "DX-5", "DX-6", "DX-7",
            "TX-1", "TX-2a", "TX-2b", "TX-2c", "TX-2d", "TX-3", "TX-4", "TX-5", "TX-6", "TX-7", "TX-7a", "TX-7b",
            "TX-7c", "TX-8a", "TX-8b", "TX-8c", "TX-9", "TX-10"}


def _rules() -> dict[str, tuple[str, ...]]:
    out = {}
    for name in (*diagnosis.TOPIC_MODULES, *treatment.TOPIC_MODULES):
        module = importlib.import_module(f"spine_guideline.{name}")
        out[name] = getattr(module, "RULES", ())
    return out


def test_rule_ids_are_well_formed_tuples():
    for name, rules in _rules().items():
        assert isinstance(rules, tuple), name
        assert all(RULE_ID.match(r) or r == "DX-2" for r in rules), (name, rules)


def test_the_topic_modules_cover_every_dx_tx_rule():
    covered = set().union(*_rules().values())
    assert EXPECTED <= covered, sorted(EXPECTED - covered)
