"""Every message key the augmentation findings use exists in both catalogs, with
every parameter it needs, and summaries render under 140 characters."""
from __future__ import annotations

import string
from datetime import date

import pytest

from cds_service.i18n import load_catalogs
from spine_guideline import augmentation
from spine_guideline.facts import (
    Allergy,
    Cancer,
    CancerCategory,
    ConditionRecord,
    Event,
    Fact,
    Medication,
    SearchStatus,
)
from spine_guideline.findings import Message
from tests.support.results import wire_with_rules

from .support.augmentation import (
    POLICY,
    base,
    drop_obs,
    metastatic,
    order,
    osteoporotic,
    ready_for_procedure,
    set_obs,
    sins_fact,
    src,
)

CATALOGS = load_catalogs()


def _scenarios():
    out = {"metastatic-eligible": ready_for_procedure(metastatic()),
           "osteoporotic-eligible": ready_for_procedure(osteoporotic())}
    f = metastatic(level="T4", sins=None)
    f.observations[("sins", "T4")] = sins_fact("T4", 14, pain=0, bone_lesion=0, alignment=0, collapse=0,
                                               posterolateral=0)
    drop_obs(f, "mdo-vpbk-benefit", "T4")
    drop_obs(f, "instability-beyond-augmentation", "T4")
    f.cancers.append(Cancer("unrecognised", CancerCategory.UNRECOGNISED, src("Condition", "u")))
    f.draft_orders.append(order("balloon-kyphoplasty", ("T4",), "bk-1"))
    out["conflict-bk-T4"] = f
    f = metastatic(sins=None)
    f.observations[("sins", "L1")] = sins_fact("L1", None, pain=3)
    for name in ("pain-score", "life-expectancy", "karnofsky", "can-lie-prone", "radicular-pain"):
        drop_obs(f, name)
    f.searches["Condition"] = SearchStatus.FAILED
    f.searches["AllergyIntolerance"] = SearchStatus.FAILED
    f.sex, f.birth_date = "female", date(1990, 1, 1)
    f.medications.append(Medication("anticoagulant", src("MedicationStatement", "doac")))
    out["everything-missing"] = f
    f = set_obs(metastatic(sins=12), "life-expectancy", 1.0)
    set_obs(f, "mdo-override-life-expectancy", True)
    set_obs(f, "karnofsky", 40)
    set_obs(f, "lesion-type", "blastic", "L1")
    set_obs(f, "coagulopathy-correctable", True)
    f.conditions.append(ConditionRecord("coagulopathy", src("Condition", "coag")))
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "s"), "planned", level="L2"))
    set_obs(f, "surgeon-augmentation-benefit", False, "L1")
    f.allergies.append(Allergy("bone-cement", src("AllergyIntolerance", "pmma")))
    f.draft_orders.append(order("vertebroplasty", ("L1", "C1"), "vp-2"))
    out["many-contraindications"] = f
    f = osteoporotic(days=20)
    f.conditions.append(ConditionRecord("vertebral-fracture", src("Condition", "t"), "T12", subtype="traumatic"))
    f.conditions.append(ConditionRecord("vertebral-haemangioma", src("Condition", "h"), "T7"))
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "mm"), "L3"))
    f.cancers.append(Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")))
    f.conditions.append(ConditionRecord("vertebral-fracture", src("Condition", "n"), None))
    set_obs(f, "pain-resolved", True)
    set_obs(f, "vertebra-plana", True, "L1")
    set_obs(f, "cortical-fracture", True, "T12")
    f.draft_orders.append(order("vertebroplasty", (), "vp-3"))
    out["benign-mixed"] = f
    f = base()
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", "m"), "C1"))
    out["no-primary"] = f
    out["mdo-review"] = drop_obs(metastatic(), "mdo-vpbk-benefit", "L1")
    out["relative"] = set_obs(metastatic(), "radicular-pain", True)
    out.update(_review_scenarios())
    return out


def _review_scenarios():
    """Patients for the texts added after the clinical review."""
    out = {}
    f = metastatic(level="T12")  # pathological fracture with a solid primary, pain recorded elsewhere
    f.conditions[0] = ConditionRecord("vertebral-fracture", src("Condition", "fx"), "T12",
                                      onset=date(2026, 11, 13), subtype="pathological")
    drop_obs(f, "pain-score")
    set_obs(f, "pain-score", 8, "T5")
    f.observations[("pain-score", None)] = Fact("pain-score", 8, f.observations[("pain-score", "T5")].sources,
                                                note="recorded at T5")
    drop_obs(f, "radicular-pain")
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    f.medications = [m for m in f.medications if m.drug_class != "analgesic"]
    f.conditions.append(ConditionRecord("vertebral-infection", src("Condition", "sd"), "T5"))
    out["review-pathological"] = f
    f = metastatic(level="L2")
    f.cancers[:] = [Cancer("multiple-myeloma", CancerCategory.HAEMATOLOGICAL, src("Condition", "mm")),
                    Cancer("breast", CancerCategory.SOLID, src("Condition", "br"), active=False)]
    f.observations[("sins", "L2")] = sins_fact("L2", None, location=3, pain=3, bone_lesion=2, alignment=2,
                                               collapse=0, posterolateral=0)
    out["review-origin-unclear"] = f
    f = metastatic(level="L3", sins=None)
    f.observations[("sins", "L3")] = sins_fact("L3", None, location=3, pain=3, bone_lesion=2, alignment=0,
                                               collapse=0, posterolateral=0)
    f.sex, f.birth_date = "female", date(1990, 1, 1)
    set_obs(f, "pregnancy", False)
    f.conditions.append(ConditionRecord("pregnancy", src("Condition", "preg")))
    out["review-location-same-band"] = f
    out["review-fixation-unknown"] = drop_obs(metastatic(sins=12), "posterior-fixation-needed", "L1")
    out["review-fixation-needed"] = set_obs(metastatic(sins=12), "posterior-fixation-needed", True, "L1")
    f = metastatic(level="T12", sins=12)
    f.events = [e for e in f.events if e.kind != "radiotherapy"]
    f.events.append(Event("spinal-surgery", src("ServiceRequest", "surg"), "planned", level="T12"))
    set_obs(f, "surgeon-augmentation-benefit", True, "T12")
    set_obs(f, "posterior-fixation-needed", True, "T12")
    out["review-m1c-stepped-care"] = f
    f = osteoporotic(level="T12", days=10)
    f.conditions[0] = ConditionRecord("vertebral-fracture", src("Condition", "fx"), "T12",
                                      onset=f.conditions[0].onset, subtype=None)
    set_obs(f, "pain-resolved", True, "T12")
    f.draft_orders.append(order("vertebroplasty", ("T12",), "vp-r"))
    out["review-unspecified-fracture"] = f
    f = osteoporotic(level="L1", days=41)
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-t"))
    out["review-too-early-order"] = f
    out["review-sacrum"] = metastatic(level="S2")
    # rules 2026.12: the level of a level-less metastasis taken from the order; M-5 from the model
    f = metastatic()
    f.conditions = [ConditionRecord("spinal-metastasis", src("Condition", "met-spine"), None)]
    f.draft_orders.append(order("vertebroplasty", ("L1",), "vp-lvl"))
    out["2026-12-level-from-order"] = f
    f = drop_obs(metastatic(), "life-expectancy")
    f.cancers[0] = Cancer("lung", CancerCategory.SOLID, src("Condition", "ca"),
                          histologically_proven=f.cancers[0].histologically_proven)
    f.conditions.append(ConditionRecord("visceral-metastases", src("Condition", "liver")))
    set_obs(f, "karnofsky", 60)
    set_obs(f, "radicular-deficit", True)
    out["2026-12-model-group-A-with-deficit"] = f
    return out


SCENARIOS = _scenarios()


def _findings():
    out = []
    for name, f in SCENARIOS.items():
        for finding in augmentation.evaluate(f, POLICY) + augmentation.evaluate_orders(f, POLICY):
            out.append((name, finding))
    return out


FINDINGS = _findings()


def _messages(finding):
    yield finding.summary
    yield finding.conclusion
    for c in finding.criteria:
        yield Message(c.key, c.params)
    yield from finding.notes
    for s in finding.suggestions:
        yield s.label
    for link in finding.links:
        yield link.label
    for m in finding.missing:
        yield Message(f"missing.{m.code}", {})
    for code in finding.override_reasons:
        yield Message(f"override.{code}", {})


def _walk(message):
    yield message
    for v in message.params.values():
        items = v if isinstance(v, (list, tuple)) else [v]
        for item in items:
            if isinstance(item, Message):
                yield from _walk(item)


def test_scenarios_cover_every_topic_and_verdict():
    topics = {f.topic for _, f in FINDINGS}
    assert topics == {"sins", "vpbk-eligibility", "vpbk-preprocedure"}
    verdicts = {wire_with_rules(f)["verdict"] for _, f in FINDINGS if f.topic == "vpbk-eligibility"}
    assert verdicts == {"eligible", "eligible-relative-contraindications", "mdo-review-needed",
                        "not-eligible", "insufficient-data"}


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_key_exists_with_its_parameters(lang):
    problems = set()
    for name, finding in FINDINGS:
        for top in _messages(finding):
            for m in _walk(top):
                template = CATALOGS.messages[lang].get(m.key)
                if template is None:
                    problems.add(f"{name}: {m.key} missing")
                    continue
                fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
                if fields - set(m.params):
                    problems.add(f"{name}: {m.key} lacks params {fields - set(m.params)}")
    assert not problems, sorted(problems)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_summaries_render_under_140_characters(lang):
    for name, finding in FINDINGS:
        text = CATALOGS.render(finding.summary, lang)
        assert "[" not in text and 0 < len(text) < 140, (name, text)


def test_override_reasons_on_every_warning_or_critical_finding():
    for name, finding in FINDINGS:
        if finding.indicator.value in ("warning", "critical"):
            assert finding.override_reasons, (name, finding.topic, finding.key)


def test_every_vpbk_rule_id_is_exercised_by_some_finding():
    from spine_guideline.registry import RULES
    ids = {r for r in RULES if r.startswith("VPBK-")}
    assert len(ids) == 28
    fired = {r for _, f in FINDINGS for r in f.rules}
    assert not ids - fired, sorted(ids - fired)
