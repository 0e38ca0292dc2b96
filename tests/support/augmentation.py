"""PatientFacts builders for the augmentation tests (checked by tests/test_augmentation_builders.py)."""
from __future__ import annotations

from datetime import UTC, date, datetime

from spine_guideline.facts import (
    Allergy,
    Cancer,
    CancerCategory,
    ConditionRecord,
    DraftOrder,
    Event,
    Fact,
    Medication,
    PatientFacts,
    SearchStatus,
    Source,
)
from spine_guideline.policy import load_policy

POLICY = load_policy()
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SEARCHED = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest",
            "MedicationStatement", "MedicationAdministration", "AllergyIntolerance",
            "ServiceRequest", "DiagnosticReport", "ImagingStudy")


def src(kind: str = "Observation", rid: str = "x", day: str = "2026-11-20") -> Source:
    return Source(kind, rid, day)


def fact(name: str, value, level: str | None = None, **attrs) -> Fact:
    return Fact(name, value, (src("Observation", f"{name}-{level or 'p'}"),), level,
                attrs={k.replace("_", "-"): (v if isinstance(v, Fact) else Fact(k, v)) for k, v in attrs.items()})


def set_obs(f: PatientFacts, name: str, value, level: str | None = None, **attrs) -> PatientFacts:
    f.observations[(name, level)] = fact(name, value, level, **attrs)
    return f


def drop_obs(f: PatientFacts, name: str, level: str | None = None) -> PatientFacts:
    f.observations.pop((name, level), None)
    return f


def sins_fact(level: str, total: int | None = None, **components) -> Fact:
    attrs = {f"sins-{k.replace('_', '-')}": Fact(f"sins-{k}", v, level=level) for k, v in components.items()}
    return Fact("sins", total, (src("Observation", f"sins-{level}"),), level, attrs=attrs)


def base(**kw) -> PatientFacts:
    """Empty patient: every search succeeded, nothing recorded."""
    f = PatientFacts(now=NOW, patient_id="p1", birth_date=date(1955, 5, 1), sex="male",
                     searches={t: SearchStatus.OK for t in SEARCHED})
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def metastatic(level: str = "L1", sins: int | None = 8, **kw) -> PatientFacts:
    """A breast-cancer patient with a metastasis at ``level`` who meets every VPBK-M criterion."""
    f = base(**kw)
    f.cancers.append(Cancer("breast", CancerCategory.SOLID, src("Condition", "ca"),
                            onset=date(2020, 1, 1),
                            histologically_proven=Fact("histologically-proven", True,
                                                       (src("DiagnosticReport", "path"),))))
    f.conditions.append(ConditionRecord("spinal-metastasis", src("Condition", f"met-{level}"), level))
    if sins is not None:
        f.observations[("sins", level)] = sins_fact(level, sins)
    for name, value, lvl in (("pain-score", 6, None), ("mdo-vpbk-benefit", True, level),
                             ("lesion-type", "lytic", level), ("vpbk-technically-suitable", True, level),
                             ("life-expectancy", 12.0, None), ("can-lie-prone", True, None),
                             ("karnofsky", 70, None), ("instability-beyond-augmentation", False, level),
                             ("posterior-fixation-needed", False, level),
                             ("radicular-pain", False, None), ("bilsky-grade", "0", level),
                             ("posterior-column-fracture", False, level)):
        set_obs(f, name, value, lvl)
    f.events += [Event("mri-whole-spine", src("ImagingStudy", "mri"), "done", date="2026-11-01"),
                 Event("radiotherapy", src("Procedure", "rt"), "done", level=level, date="2026-08-01")]
    f.medications += [Medication("analgesic", src("MedicationStatement", "an")),
                      Medication("systemic-therapy", src("MedicationStatement", "st"))]
    return f


def osteoporotic(level: str = "L1", days: int = 60, **kw) -> PatientFacts:
    """An osteoporotic fracture at ``level`` ``days`` ago that meets every VPBK-O criterion."""
    f = base(**kw)
    onset = date.fromordinal(NOW.date().toordinal() - days)
    f.conditions.append(ConditionRecord("vertebral-fracture", src("Condition", f"fx-{level}"), level,
                                        onset=onset, onset_field="onsetDateTime", subtype="osteoporotic"))
    for name, value, lvl in (("pain-score", 8, None), ("conservative-treatment-failed", True, None),
                             ("pain-at-fracture-level", True, level), ("radiating-pain", False, None),
                             ("radicular-pain", False, None), ("bone-marrow-oedema", True, level),
                             ("fracture-stable", True, level), ("can-lie-prone", True, None),
                             ("retropulsion", False, level)):
        set_obs(f, name, value, lvl)
    return f


def ready_for_procedure(f: PatientFacts) -> PatientFacts:
    """Add every pre-procedure item in order."""
    for name, value in (("inr", 1.1), ("aptt", 30.0), ("pt", 12.0), ("sodium", 140.0),
                        ("potassium", 4.0), ("creatinine", 80.0)):
        set_obs(f, name, value)
    f.events += [Event("ecg", src("Observation", "ecg"), "done"),
                 Event("chest-xray", src("DiagnosticReport", "cxr"), "done")]
    f.allergies.append(Allergy("no-known-allergy", src("AllergyIntolerance", "nka")))
    return f


def order(kind: str = "vertebroplasty", levels: tuple[str, ...] = ("L1",), rid: str = "vp-1",
          selected: bool = True) -> DraftOrder:
    return DraftOrder(kind, "ServiceRequest", rid, selected=selected, levels=levels)


def by_topic(findings, topic: str, key: str | None = "__any__"):
    out = [x for x in findings if x.topic == topic and (key == "__any__" or x.key == key)]
    return out
