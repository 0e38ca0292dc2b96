"""VPBK-O: VP/BK for osteoporotic and other non-metastatic fractures, haemangioma,
benign tumours and myeloma (sources 001, 004), per vertebra."""
from __future__ import annotations

from .augmentation_common import (
    Assessment,
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
from .facts import CancerCategory, Fact, PatientFacts
from .findings import msg
from .policy import Policy

#: lesion kinds at a level; "malignant": myeloma / other osteolytic lesions outside VPBK-M;
#: "unspecified": a vertebral fracture whose type (osteoporotic, traumatic, pathological) is not recorded
FRACTURE_KINDS = ("osteoporotic", "traumatic", "malignant", "unspecified")
_SUBTYPE_KIND = {"osteoporotic": "osteoporotic", "traumatic": "traumatic", "pathological": "malignant"}


def lesion_kinds(facts: PatientFacts, level: str) -> tuple[list[str], list]:
    kinds: list[str] = []
    records = []
    for c in facts.conditions:
        if not c.active or c.level != level:
            continue
        if c.name == "spinal-metastasis":
            kinds.append("malignant")
        elif c.name == "vertebral-fracture":
            kinds.append(_SUBTYPE_KIND.get(c.subtype or "", "unspecified"))
        elif c.name == "vertebral-haemangioma":
            kinds.append("haemangioma")
        elif c.name == "benign-vertebral-tumour":
            kinds.append("benign-tumour")
        else:
            continue
        records.append(c)
    order = ("malignant", "traumatic", "osteoporotic", "unspecified", "haemangioma", "benign-tumour")
    return sorted(set(kinds), key=order.index), records


def assess(facts: PatientFacts, level: str, policy: Policy) -> Assessment:
    a = Assessment(level, "osteoporotic-benign")
    kinds, records = lesion_kinds(facts, level)
    a.kinds = kinds
    fracture = any(k in FRACTURE_KINDS for k in kinds)
    _indication(a, facts, level, policy, kinds, records)
    _selection(a, facts, level, policy, kinds, records)
    _timing(a, facts, level, policy, kinds, records)
    _acute(a, facts, level, policy, kinds, fracture)
    _contraindications(a, facts, level, policy, kinds)
    _workup(a, facts, level)
    return a


# -- VPBK-O-1 -------------------------------------------------------------------
def _indication(a: Assessment, facts, level, policy, kinds, records) -> None:
    a.crit("vpbk.crit.o1-indication", True if kinds else None, "VPBK-O-1",
           *(Fact(r.name, True, (r.source,), level) for r in records),
           kinds=[msg(f"vpbk.kind.{k}") for k in kinds] or "-")
    if not kinds:
        a.miss("vertebral-fracture", level=level)
    if "malignant" in kinds:
        haem = [c for c in facts.cancers if c.category == CancerCategory.HAEMATOLOGICAL]
        if haem:
            a.notes.append(msg("vpbk.note.o1-haematological",
                               cancers=[msg(f"vpbk.cancer.{c.cancer_type}") for c in haem]))
    if "traumatic" in kinds:
        magerl = facts.obs("magerl-type", level)
        stable_types = policy_value(policy, "traumatic_stable_magerl")
        ok = None if magerl.value is None else str(magerl.value).upper() in stable_types
        a.crit("vpbk.crit.o1-magerl", ok, "VPBK-O-1", magerl, types=", ".join(stable_types))
        if ok is False:
            a.add_absolute("unstable-vertebra")
        elif ok is None:
            a.miss("magerl-type", magerl, level=level)
        a.notes.append(msg("vpbk.note.o1-trauma-early"))
    # only stable fractures (source 001); stability must be recorded for fractures
    stable = bool_obs(facts, "fracture-stable", level)
    beyond = bool_obs(facts, "instability-beyond-augmentation", level)
    fixation = bool_obs(facts, "posterior-fixation-needed", level)
    if stable.is_false or beyond.is_true or fixation.is_true:
        value: bool | None = False
    else:
        value = stable.value
    needs = any(k in FRACTURE_KINDS for k in kinds)
    if needs or value is False:
        a.crit("vpbk.crit.o1-stable", value, "VPBK-O-1", stable, beyond, fixation)
        if value is False:
            a.add_absolute("unstable-vertebra")
        elif value is None:
            a.miss("fracture-stable", stable, level=level)


# -- VPBK-O-2 -------------------------------------------------------------------
def _selection(a: Assessment, facts, level, policy, kinds, records) -> None:
    # lesion / fracture seen on imaging
    confirmed = [r for r in records if not r.suspected]
    oedema = bool_obs(facts, "bone-marrow-oedema", level)
    collapse = num_obs(facts, "vertebral-collapse", level)
    sins_collapse = facts.obs("sins", level).attrs.get("sins-collapse")
    imaging_finding = oedema.is_true or (collapse.value is not None and collapse.value > 0) \
        or (sins_collapse is not None and isinstance(sins_collapse.value, int)
            and not isinstance(sins_collapse.value, bool) and sins_collapse.value >= 2)
    seen = True if (confirmed or imaging_finding) else None
    a.crit("vpbk.crit.o2-seen-on-imaging", seen, "VPBK-O-2",
           *(Fact(r.name, True, (r.source,), level) for r in confirmed), oedema, collapse)
    if seen is None and kinds:
        a.miss("vertebral-fracture", level=level)
    # severe / disabling pain
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
    a.crit("vpbk.crit.o2-severe-pain", severe, "VPBK-O-2", pain, disabling, minimum=pmin,
           value="-" if pain.value is None else pain.value)
    if severe is False:
        a.fail("pain-not-severe")
    elif severe is None:
        a.miss("disabling-back-pain" if pain.value is not None else "pain-score",
               disabling if pain.value is not None else pain)
    # conservative treatment failed
    cons = bool_obs(facts, "conservative-treatment-failed", level)
    a.crit("vpbk.crit.o2-conservative-failed", cons.value, "VPBK-O-2", cons)
    if cons.is_false:
        a.fail("conservative-treatment-not-failed")
    elif cons.is_unknown:
        a.miss("conservative-treatment-failed", cons)
    # pain at the level of the fracture
    at_level = bool_obs(facts, "pain-at-fracture-level", level)
    level_pain = facts.observations.get(("pain-score", level))
    at = at_level.value
    if at is None and level_pain is not None and isinstance(level_pain.value, (int, float)) \
            and not isinstance(level_pain.value, bool) and level_pain.value >= 1:
        at = True
    a.crit("vpbk.crit.o2-pain-at-level", at, "VPBK-O-2", at_level,
           *((level_pain,) if level_pain is not None else ()))
    if at is False:
        a.fail("pain-not-at-fracture-level")
    elif at is None:
        a.miss("pain-at-fracture-level", at_level)
    # no radiating (neurological) pain
    radiating = bool_obs(facts, "radiating-pain", level)
    radicular = bool_obs(facts, "radicular-pain", level)
    if radiating.is_true or radicular.is_true:
        no_rad: bool | None = False
    elif radiating.is_false and radicular.is_false:
        no_rad = True
    elif radiating.is_false or radicular.is_false:
        # one recorded false, the other unknown: both name the same symptom
        no_rad = True
    else:
        no_rad = None
    a.crit("vpbk.crit.o2-no-radiating-pain", no_rad, "VPBK-O-2", radiating, radicular)
    if no_rad is False:
        a.fail("radiating-pain")
    elif no_rad is None:
        a.miss("radiating-pain", radiating)
    lpp = bool_obs(facts, "local-pressure-pain", level)
    a.notes.append(msg("vpbk.note.o2-local-pressure-pain",
                       value=msg(f"vpbk.tri.{_tri(lpp.value)}")))


def _tri(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


# -- VPBK-O-3 -------------------------------------------------------------------
def _timing(a: Assessment, facts, level, policy, kinds, records) -> None:
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
    a.extra["daysSinceFracture"] = days
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
def _acute(a: Assessment, facts, level, policy, kinds, fracture: bool) -> None:
    oedema = bool_obs(facts, "bone-marrow-oedema", level)
    a.crit("vpbk.crit.o4-marrow-oedema", oedema.value, "VPBK-O-4", oedema)
    if "malignant" in kinds:
        lesion = lesion_type(facts, level)
        suitable = policy_value(policy, "suitable_lesion_types")
        lytic = None if lesion.value is None else lesion.value in suitable
        a.crit("vpbk.crit.o4-lytic", lytic, "VPBK-O-4", lesion,
               type=lesion.value if lesion.value is not None else "-")
        if lytic is False:
            a.fail("not-lytic")
        elif lytic is None:
            a.miss("lesion-type", lesion, level=level)


# -- VPBK-O-5 -------------------------------------------------------------------
def _contraindications(a: Assessment, facts, level, policy, kinds) -> None:
    a.rule("VPBK-O-5")
    # back pain resolved
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
    else:
        if resolved.is_true:
            res: bool | None = True
        elif resolved.is_false or ongoing:
            res = False
        else:
            res = None
        _ci(a, "pain-resolved", res, resolved, pain, missing="pain-resolved")
    # infection
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
    # no recent fracture (marrow oedema absent); not for haemangioma / benign tumours only
    if any(k in FRACTURE_KINDS for k in kinds) or not kinds:
        oedema = bool_obs(facts, "bone-marrow-oedema", level)
        _ci(a, "no-recent-fracture", None if oedema.value is None else not oedema.value, oedema,
            missing="bone-marrow-oedema")
    _prone_cement_cardiopulmonary(a, facts)
    if any(k in FRACTURE_KINDS for k in kinds) or not kinds:
        # "retropulsed fragments (all fractures)": not asked for a haemangioma / benign tumour alone
        retro = bool_obs(facts, "retropulsion", level)
        _ci(a, "retropulsion", retro, missing="retropulsion")
    if "malignant" in kinds:
        epi, bilsky, cord = epidural_extension(facts, level, policy)
        _ci(a, "epidural-extension", epi, bilsky, cord, missing="bilsky-grade")


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
    # uncorrected haemostasis disorder (a haematological malignancy as such is not one)
    coag = facts.condition("coagulopathy")
    correctable = bool_obs(facts, "coagulopathy-correctable", None)
    if coag.is_true:
        uncorrected = None if correctable.value is None else not correctable.value
    else:
        uncorrected = coag.value
    _ci(a, "coagulopathy", uncorrected, coag, correctable,
        missing="coagulopathy-correctable" if coag.is_true else "coagulopathy")
    if coag.is_true and correctable.is_true:
        a.notes.append(msg("vpbk.note.m6-correct-coagulation"))


def _prone_cement_cardiopulmonary(a: Assessment, facts: PatientFacts) -> None:
    prone = bool_obs(facts, "can-lie-prone", None)
    _ci(a, "cannot-lie-prone", None if prone.value is None else not prone.value, prone,
        missing="can-lie-prone")
    cement = facts.allergy("bone-cement")
    _ci(a, "procedure-material-allergy", cement, missing="bone-cement-allergy")
    _ci(a, "poor-cardiopulmonary-condition", facts.condition("poor-cardiopulmonary-condition"),
        missing="poor-cardiopulmonary-condition")


def _ci(a: Assessment, code: str, present, *facts: Fact, missing: str) -> None:
    """A VPBK-O-5 contraindication: present -> not-eligible; unknown -> missing."""
    if isinstance(present, Fact):
        facts = (present,) + facts
        present = present.value if isinstance(present.value, bool) else None
    a.crit(f"vpbk.crit.o5-no-{code}", None if present is None else not present, "VPBK-O-5", *facts)
    if present is True:
        a.add_absolute(code)
    elif present is None:
        a.miss(missing, next((f for f in facts if f.is_unknown), "not-recorded")
               if facts else "not-recorded", level=a.vertebra)


# -- VPBK-O-6 -------------------------------------------------------------------
WORKUP = ("neurological-deficit", "vertebral-collapse", "pedicles", "posterior-wall",
          "canal-stenosis", "bone-marrow-oedema", "bone-densitometry", "labs-ecg")


def _workup(a: Assessment, facts: PatientFacts, level: str) -> None:
    a.rule("VPBK-O-6")
    a.notes.append(msg("vpbk.note.o6-workup", items=[msg(f"vpbk.workup.{w}") for w in WORKUP]))
