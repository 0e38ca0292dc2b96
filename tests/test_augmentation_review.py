"""Regression tests for the independent clinical review of the VP/BK rules
(each names the rule it guards; each failed before its fix)."""
from __future__ import annotations

from datetime import date

import pytest

from spine_guideline import augmentation, sins
from spine_guideline.facts import (Allergy, Cancer, CancerCategory, ConditionRecord, Event, Fact,
                                   Medication, SearchStatus)

from .test_augmentation_builders import (POLICY, base, by_topic, drop_obs, metastatic, order,
                                         osteoporotic, ready_for_procedure, set_obs, sins_fact, src)


def elig(f, key="L1"):
    [finding] = by_topic(augmentation.evaluate(f, POLICY), "vpbk-eligibility", key)
    return finding, finding.machine_result()


def order_elig(f, key="vp-1"):
    return [x for x in augmentation.evaluate_orders(f, POLICY)
            if x.topic == "vpbk-eligibility" and (x.key == key or x.key.startswith(f"{key}:"))]


# -- 1 -------------------------------------------------------------------------
def test_VPBK_M_1b_posterior_fixation_unknown_is_never_eligible():
    f = drop_obs(metastatic(sins=12), "posterior-fixation-needed", "L1")
    finding, res = elig(f)
    assert res["verdict"] == "mdo-review-needed"
    assert "posterior-fixation-needed" in res["missing"]
    [crit] = [c for c in finding.criteria if c.key == "vpbk.crit.m1b-no-posterior-fixation"]
    assert crit.status.value == "unknown"


def test_VPBK_M_1b_posterior_fixation_needed_fails_the_indication():
    _, res = elig(set_obs(metastatic(sins=12), "posterior-fixation-needed", True, "L1"))
    assert res["verdict"] == "not-eligible"
    assert "posterior-fixation-needed" in res["unmetCriteria"]
