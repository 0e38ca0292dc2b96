"""VPBK-O: VP/BK for osteoporotic and other non-metastatic fractures, haemangioma,
benign tumours and myeloma (sources 001, 004), per vertebra."""
from __future__ import annotations

from .augmentation_common import (
    Assessment,
    Contra,
    bool_obs,
    num_obs,
    policy_value,
    vertebral_infection,
    whole_days,
)
from .augmentation_metastatic import (
    epidural_extension,
    infection_elsewhere,
    lesion_type,
)
from .facts import CancerCategory, ConditionRecord, Fact, PatientFacts, tri_not
from .findings import msg
from .keys import VPBK_CANCER, VPBK_CRIT_O5, VPBK_KIND, VPBK_TRI, VPBK_WORKUP, pick
from .policy import Policy
from .results import Pathway

#: lesion kinds at a level; "malignant": myeloma / other osteolytic lesions outside VPBK-M;
#: "unspecified": a vertebral fracture whose type (osteoporotic, traumatic, pathological) is not recorded
FRACTURE_KINDS = ("osteoporotic", "traumatic", "malignant", "unspecified")
_SUBTYPE_KIND = {"osteoporotic": "osteoporotic", "traumatic": "traumatic", "pathological": "malignant"}
_KIND_OF_CONDITION = {"spinal-metastasis": "malignant", "vertebral-haemangioma": "haemangioma",
                      "benign-vertebral-tumour": "benign-tumour"}
_KIND_ORDER = ("malignant", "traumatic", "osteoporotic", "unspecified", "haemangioma", "benign-tumour")


def _kind_of(c: ConditionRecord) -> str | None:
    if c.name == "vertebral-fracture":
        return _SUBTYPE_KIND.get(c.subtype or "", "unspecified")
    return _KIND_OF_CONDITION.get(c.name)


def lesion_kinds(facts: PatientFacts, level: str) -> tuple[list[str], list[ConditionRecord]]:
    kinds: set[str] = set()
    records = []
    for c in facts.conditions:
        kind = _kind_of(c) if c.active and c.level == level else None
        if kind is not None:
            kinds.add(kind)
            records.append(c)
    return sorted(kinds, key=_KIND_ORDER.index), records


def _is_fracture(kinds: list[str]) -> bool:
    return any(k in FRACTURE_KINDS for k in kinds)


def assess(facts: PatientFacts, level: str, policy: Policy) -> Assessment:
    a = Assessment(level, Pathway.OSTEOPOROTIC_BENIGN)
    kinds, records = lesion_kinds(facts, level)
    a.kinds = kinds
    _indication(a, facts, level, policy, kinds, records)
    _selection(a, facts, level, policy, kinds, records)
    _timing(a, facts, level, policy, kinds, records)
    _acute(a, facts, level, policy, kinds)
    _contraindications(a, facts, level, policy, kinds)
    _workup(a)
    return a


# -- VPBK-O-1 -------------------------------------------------------------------
def _indication(a: Assessment, facts: PatientFacts, level: str, policy: Policy, kinds: list[str],
                records: list[ConditionRecord]) -> None:
    a.crit("vpbk.crit.o1-indication", True if kinds else None, "VPBK-O-1",
           *(Fact(r.name, True, (r.source,), level) for r in records),
           kinds=[pick(VPBK_KIND, k) for k in kinds] or "-")
    if not kinds:
        a.miss("vertebral-fracture", level=level)
    if "malignant" in kinds:
        haem = [c for c in facts.cancers if c.category == CancerCategory.HAEMATOLOGICAL]
        if haem:
            a.notes.append(msg("vpbk.note.o1-haematological",
                               cancers=[pick(VPBK_CANCER, c.cancer_type) for c in haem]))
    if "traumatic" in kinds:
        _magerl(a, facts, level, policy)
    _stable_fracture(a, facts, level, kinds)


def _magerl(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    """Traumatic fractures: only stable ones (Magerl A1), best treated very early (source 001)."""
    magerl = facts.obs("magerl-type", level)
    stable_types = policy_value(policy, "traumatic_stable_magerl")
    unstable = None if magerl.value is None else str(magerl.value).upper() not in stable_types
    a.contraindication("vpbk.crit.o1-magerl", unstable, "VPBK-O-1", Contra.ABSOLUTE, "unstable-vertebra",
                       magerl, missing="magerl-type", level=level, why=magerl, types=", ".join(stable_types))
    a.notes.append(msg("vpbk.note.o1-trauma-early"))


def _stable_fracture(a: Assessment, facts: PatientFacts, level: str, kinds: list[str]) -> None:
    """Only stable fractures (source 001); stability must be recorded for fractures."""
    stable = bool_obs(facts, "fracture-stable", level)
    beyond = bool_obs(facts, "instability-beyond-augmentation", level)
    fixation = bool_obs(facts, "posterior-fixation-needed", level)
    value = False if (stable.is_false or beyond.is_true or fixation.is_true) else stable.value
    if _is_fracture(kinds) or value is False:
        a.contraindication("vpbk.crit.o1-stable", tri_not(value), "VPBK-O-1", Contra.ABSOLUTE,
                           "unstable-vertebra", stable, beyond, fixation, missing="fracture-stable", level=level,
                           why=stable)


# -- VPBK-O-2 -------------------------------------------------------------------
def _selection(a: Assessment, facts: PatientFacts, level: str, policy: Policy, kinds: list[str],
               records: list[ConditionRecord]) -> None:
    """All required: seen on imaging, severe pain, conservative treatment failed, pain at
    the fracture level, no radiating pain; local pressure pain supports (a note)."""
    _seen_on_imaging(a, facts, level, kinds, records)
    _severe_pain(a, facts, level, policy)
    cons = bool_obs(facts, "conservative-treatment-failed", level)
    a.require("vpbk.crit.o2-conservative-failed", cons.value, "VPBK-O-2", "conservative-treatment-not-failed",
              cons, missing="conservative-treatment-failed", why=cons)
    _pain_at_level(a, facts, level)
    _no_radiating_pain(a, facts, level)
    lpp = bool_obs(facts, "local-pressure-pain", level)
    a.notes.append(msg("vpbk.note.o2-local-pressure-pain", value=pick(VPBK_TRI, _tri(lpp.value))))


def _points(fact: Fact | None) -> int | None:
    """An integer value (not a boolean), else None."""
    if fact is None or isinstance(fact.value, bool) or not isinstance(fact.value, int):
        return None
    return fact.value


def _seen_on_imaging(a: Assessment, facts: PatientFacts, level: str, kinds: list[str],
                     records: list[ConditionRecord]) -> None:
    """A confirmed Condition at the level, or an imaging finding there (marrow oedema,
    collapse, SINS collapse)."""
    confirmed = [r for r in records if not r.suspected]
    oedema = bool_obs(facts, "bone-marrow-oedema", level)
    collapse = num_obs(facts, "vertebral-collapse", level)
    sins_collapse = _points(facts.obs("sins", level).attrs.get("sins-collapse"))
    imaging_finding = oedema.is_true or (collapse.value is not None and collapse.value > 0) \
        or (sins_collapse is not None and sins_collapse >= 2)
    seen = True if (confirmed or imaging_finding) else None
    a.crit("vpbk.crit.o2-seen-on-imaging", seen, "VPBK-O-2",
           *(Fact(r.name, True, (r.source,), level) for r in confirmed), oedema, collapse)
    if seen is None and kinds:
        a.miss("vertebral-fracture", level=level)


def _severe_pain(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    """Severe / disabling back pain: a pain score >= 7 (policy) or disabling-back-pain."""
    pain = num_obs(facts, "pain-score", level)
    disabling = bool_obs(facts, "disabling-back-pain", level)
    pmin = policy_value(policy, "benign_severe_pain_min")
    by_score = None if pain.value is None else pain.value >= pmin
    if by_score is True or disabling.is_true:
        severe: bool | None = True
    elif by_score is False and disabling.is_false:
        severe = False
    else:
        severe = None
    a.require("vpbk.crit.o2-severe-pain", severe, "VPBK-O-2", "pain-not-severe", pain, disabling,
              missing="disabling-back-pain" if pain.value is not None else "pain-score",
              why=disabling if pain.value is not None else pain,
              minimum=pmin, value="-" if pain.value is None else pain.value)


def _pain_at_level(a: Assessment, facts: PatientFacts, level: str) -> None:
    """Back pain at the level of the fracture: recorded, or a pain score >= 1 recorded at the level."""
    at_level = bool_obs(facts, "pain-at-fracture-level", level)
    level_pain = facts.observations.get(("pain-score", level))
    at = at_level.value
    if at is None and level_pain is not None and isinstance(level_pain.value, (int, float)) \
            and not isinstance(level_pain.value, bool) and level_pain.value >= 1:
        at = True
    a.require("vpbk.crit.o2-pain-at-level", at, "VPBK-O-2", "pain-not-at-fracture-level", at_level,
              *((level_pain,) if level_pain is not None else ()), missing="pain-at-fracture-level", why=at_level)


def _no_radiating_pain(a: Assessment, facts: PatientFacts, level: str) -> None:
    """No radiating (neurological) pain: false when radiating-pain or radicular-pain is
    true; one recorded false is enough (both name the same symptom)."""
    radiating = bool_obs(facts, "radiating-pain", level)
    radicular = bool_obs(facts, "radicular-pain", level)
    if radiating.is_true or radicular.is_true:
        no_rad: bool | None = False
    elif radiating.is_false or radicular.is_false:
        no_rad = True
    else:
        no_rad = None
    a.require("vpbk.crit.o2-no-radiating-pain", no_rad, "VPBK-O-2", "radiating-pain", radiating, radicular,
              missing="radiating-pain", why=radiating)


def _tri(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


# -- VPBK-O-3 -------------------------------------------------------------------
def _timing(a: Assessment, facts: PatientFacts, level: str, policy: Policy, kinds: list[str],
            records: list[ConditionRecord]) -> None:
    """VPBK-O-3 is for osteoporotic fractures only. A fracture whose type is not
    recorded is not assumed osteoporotic: within the waiting time its type
    decides, so it is asked for (never 'too early' on a guess)."""
    if "osteoporotic" not in kinds and "unspecified" not in kinds:
        return
    osteoporotic = "osteoporotic" in kinds
    wanted = ("osteoporotic",) if osteoporotic else (None, "")
    fracture_records = [r for r in records if r.name == "vertebral-fracture"
                        and (r.subtype if r.subtype in _SUBTYPE_KIND else None) in wanted]
    onsets = [r.onset for r in fracture_records if r.onset is not None]
    wait_min = policy_value(policy, "osteoporotic_wait_min_days")
    wait_full = policy_value(policy, "osteoporotic_wait_full_days")
    facts_used = tuple(Fact("vertebral-fracture", True, (r.source,), level,
                            note=r.onset_field) for r in fracture_records)
    if not onsets:
        a.crit("vpbk.crit.o3-timing", None, "VPBK-O-3", *facts_used, days="-", minimum=wait_min)
        a.miss("fracture-date", level=level)
        if not osteoporotic:
            a.miss("fracture-type", level=level)
        return
    days = whole_days(facts, max(onsets))
    a.days_since_fracture = days
    ok = days >= wait_min
    if not ok and not osteoporotic:
        a.crit("vpbk.crit.o3-fracture-type-unknown", None, "VPBK-O-3", *facts_used, days=days,
               minimum=wait_min)
        a.miss("fracture-type", level=level)
        return
    a.crit("vpbk.crit.o3-timing", ok, "VPBK-O-3", *facts_used, days=days, minimum=wait_min)
    if not ok:
        a.add_absolute("too-early")
    elif days < wait_full:
        a.notes.append(msg("vpbk.note.o3-within-window", days=days))


# -- VPBK-O-4 -------------------------------------------------------------------
def _acute(a: Assessment, facts: PatientFacts, level: str, policy: Policy, kinds: list[str]) -> None:
    """Marrow oedema supports an acute fracture; a malignant (myeloma) lesion must be lytic (source 004)."""
    oedema = bool_obs(facts, "bone-marrow-oedema", level)
    a.crit("vpbk.crit.o4-marrow-oedema", oedema.value, "VPBK-O-4", oedema)
    if "malignant" in kinds:
        lesion = lesion_type(facts, level)
        suitable = policy_value(policy, "suitable_lesion_types")
        lytic = None if lesion.value is None else lesion.value in suitable
        a.require("vpbk.crit.o4-lytic", lytic, "VPBK-O-4", "not-lytic", lesion, missing="lesion-type",
                  level=level, why=lesion, type=lesion.value if lesion.value is not None else "-")


# -- VPBK-O-5 -------------------------------------------------------------------
def _contraindications(a: Assessment, facts: PatientFacts, level: str, policy: Policy, kinds: list[str]) -> None:
    a.rule("VPBK-O-5")
    _pain_resolved(a, facts, level)
    infection, elsewhere = vertebral_infection(facts, level)
    if elsewhere:
        a.crit("vpbk.crit.o5-no-vertebral-infection", None, "VPBK-O-5", infection)
        infection_elsewhere(a, elsewhere)
    else:
        _ci(a, "vertebral-infection", infection, missing="vertebral-infection")
    _systemic_infection(a, facts)
    _ci(a, "puncture-site-infection", facts.condition("puncture-site-infection", level),
        missing="puncture-site-infection")
    _coagulation(a, facts)
    fracture = _is_fracture(kinds) or not kinds
    if fracture:
        # no recent fracture (marrow oedema absent); not for haemangioma / benign tumours only
        oedema = bool_obs(facts, "bone-marrow-oedema", level)
        _ci(a, "no-recent-fracture", tri_not(oedema), oedema, missing="bone-marrow-oedema")
    _prone_cement_cardiopulmonary(a, facts)
    if fracture:
        # "retropulsed fragments (all fractures)": not asked for a haemangioma / benign tumour alone
        _ci(a, "retropulsion", bool_obs(facts, "retropulsion", level), missing="retropulsion")
    if "malignant" in kinds:
        epi, bilsky, cord = epidural_extension(facts, level, policy)
        _ci(a, "epidural-extension", epi, bilsky, cord, missing="bilsky-grade")


def _pain_resolved(a: Assessment, facts: PatientFacts, level: str) -> None:
    """Back pain resolved: true when recorded; false when recorded false or pain is
    ongoing (a pain score >= 1, disabling pain, pain at the fracture level); both: a conflict."""
    resolved = bool_obs(facts, "pain-resolved", level)
    pain = num_obs(facts, "pain-score", level)
    disabling = bool_obs(facts, "disabling-back-pain", level)
    at_level = bool_obs(facts, "pain-at-fracture-level", level)
    ongoing = (pain.value is not None and pain.value >= 1) or disabling.is_true or at_level.is_true
    if resolved.is_true and ongoing:
        # contradicting records: not settled by either side (shown, unknown)
        a.crit("vpbk.crit.o5-no-pain-resolved", None, "VPBK-O-5", resolved, pain, disabling, at_level)
        a.miss("pain-resolved", "conflict", level=level)
        a.notes.append(msg("vpbk.note.o5-pain-resolved-conflict",
                           value="-" if pain.value is None else pain.value))
        return
    res = True if resolved.is_true else (False if (resolved.is_false or ongoing) else None)
    _ci(a, "pain-resolved", res, resolved, pain, missing="pain-resolved")


def patient_wide(a: Assessment, facts: PatientFacts) -> None:
    """The VPBK-O-5 contraindications that do not depend on the level (also
    checked for an order whose level is unknown)."""
    a.rule("VPBK-O-5")
    _systemic_infection(a, facts)
    _coagulation(a, facts)
    _prone_cement_cardiopulmonary(a, facts)


def _systemic_infection(a: Assessment, facts: PatientFacts) -> None:
    _ci(a, "systemic-infection", facts.condition("systemic-infection"), missing="systemic-infection")


def _coagulation(a: Assessment, facts: PatientFacts) -> None:
    """Uncorrected haemostasis disorder (a haematological malignancy as such is not one)."""
    coag = facts.condition("coagulopathy")
    correctable = bool_obs(facts, "coagulopathy-correctable", None)
    uncorrected = tri_not(correctable) if coag.is_true else coag.value
    _ci(a, "coagulopathy", uncorrected, coag, correctable,
        missing="coagulopathy-correctable" if coag.is_true else "coagulopathy")
    if coag.is_true and correctable.is_true:
        a.notes.append(msg("vpbk.note.m6-correct-coagulation"))


def _prone_cement_cardiopulmonary(a: Assessment, facts: PatientFacts) -> None:
    prone = bool_obs(facts, "can-lie-prone", None)
    _ci(a, "cannot-lie-prone", tri_not(prone), prone, missing="can-lie-prone")
    _ci(a, "procedure-material-allergy", facts.allergy("bone-cement"), missing="bone-cement-allergy")
    _ci(a, "poor-cardiopulmonary-condition", facts.condition("poor-cardiopulmonary-condition"),
        missing="poor-cardiopulmonary-condition")


def _ci(a: Assessment, code: str, present: bool | None | Fact, *facts: Fact, missing: str) -> None:
    """A VPBK-O-5 contraindication: present -> not-eligible; unknown -> missing (at the level).
    ``present`` may be the fact itself (a non-boolean value reads as unknown)."""
    if isinstance(present, Fact):
        facts = (present, *facts)
        present = present.value if isinstance(present.value, bool) else None
    a.contraindication(VPBK_CRIT_O5[code], present, "VPBK-O-5", Contra.ABSOLUTE, code, *facts,
                       missing=missing, level=a.vertebra)


# -- VPBK-O-6 -------------------------------------------------------------------
WORKUP = ("neurological-deficit", "vertebral-collapse", "pedicles", "posterior-wall",
          "canal-stenosis", "bone-marrow-oedema", "bone-densitometry", "labs-ecg")


def _workup(a: Assessment) -> None:
    a.rule("VPBK-O-6")
    a.notes.append(msg("vpbk.note.o6-workup", items=[pick(VPBK_WORKUP, w) for w in WORKUP]))
