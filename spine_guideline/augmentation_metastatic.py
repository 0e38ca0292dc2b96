"""VPBK-M: VP/BK for spinal metastases of solid tumours (source 000), per vertebra."""
from __future__ import annotations

from . import survival
from .augmentation_common import (
    Assessment,
    Contra,
    adjacent_levels,
    bool_obs,
    level_obs,
    num_obs,
    policy_value,
    vertebral_infection,
)
from .facts import Cancer, CancerCategory, Fact, PatientFacts, tri_and, tri_not, tri_or
from .findings import msg
from .keys import VPBK_CANCER, VPBK_CODE, VPBK_CRIT_M4, VPBK_LESION, VPBK_LEVEL, VPBK_PREFERENCE, VPBK_TREATMENT, pick
from .policy import Policy
from .results import ModelEstimate, Pathway
from .sins import SinsAssessment, missing_entries

STEPPED_CARE = ("systemic-therapy", "analgesics", "radiotherapy")
_IMAGING_SEARCH = ("Procedure", "ImagingStudy", "DiagnosticReport")
_DEFICITS = ("mescc-deficit", "radicular-deficit", "severe-neurological-deficit")


def assess(facts: PatientFacts, level: str, policy: Policy, sins: SinsAssessment) -> Assessment:
    a = Assessment(level, Pathway.METASTATIC)
    _diagnostics(a, facts, level, sins)
    m1c = _indication(a, facts, level, policy, sins)
    _vertebra(a, facts, level, policy, sins)
    _stepped_care(a, facts, level)
    _patient(a, facts, level, policy)
    _absolute(a, facts, level, sins, m1c, policy)
    _relative(a, facts, level, policy)
    a.rule("VPBK-M-8", "VPBK-M-9")
    return a


# -- pathway ----------------------------------------------------------------------
def lesion_origin(facts: PatientFacts) -> str:
    """Where a malignant vertebral lesion comes from, as far as the record tells:
    ``solid``, ``haematological`` (myeloma / lymphoma and no solid cancer),
    ``unclear`` (an active, confirmed haematological cancer beside a solid cancer
    that is only history or suspected), ``other-malignancy`` (unknown primary,
    secondary or unrecognised codes only) or ``none``."""
    haem = [c for c in facts.cancers if c.category == CancerCategory.HAEMATOLOGICAL]
    solid = [c for c in facts.cancers if c.category == CancerCategory.SOLID]
    if solid and haem:
        active_haem = any(c.active and not c.suspected for c in haem)
        firm_solid = any(c.active and not c.suspected for c in solid)
        return "unclear" if active_haem and not firm_solid else "solid"
    if haem:
        return "haematological"
    if solid:
        return "solid"
    return "other-malignancy" if facts.cancers else "none"


def _cancer_note(c: Cancer) -> str | None:
    if c.active and not c.suspected:
        return None
    return "suspected" if c.suspected else "history"


def _origin(a: Assessment, facts: PatientFacts, level: str) -> None:
    if lesion_origin(facts) != "unclear":
        return
    cancers = [c for c in facts.cancers if c.category in (CancerCategory.SOLID, CancerCategory.HAEMATOLOGICAL)]
    a.crit("vpbk.crit.lesion-origin-unclear", None, "VPBK-O-1",
           *(Fact("cancer", True, (c.source,), note=_cancer_note(c)) for c in cancers),
           cancers=[pick(VPBK_CANCER, c.cancer_type) for c in cancers])
    a.miss("lesion-origin", level=level)


# -- VPBK-M-2 -------------------------------------------------------------------
def _diagnostics(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment) -> None:
    _origin(a, facts, level)
    _histology(a, facts)
    _metastasis_confirmed(a, facts, level)
    _whole_spine_imaging(a, facts)
    _sins_band_known(a, level, sins)


def _histology(a: Assessment, facts: PatientFacts) -> None:
    """(History of) histologically proven solid malignancy: positive evidence only."""
    solid = [c for c in facts.cancers if c.category == CancerCategory.SOLID]
    if not solid:
        a.crit("vpbk.crit.m2-no-solid-primary", None, "VPBK-M-2",
               *(Fact("cancer", True, (c.source,)) for c in facts.cancers))
        a.miss("histologically-proven")
        return
    proofs = [c.histologically_proven for c in solid]
    a.require("vpbk.crit.m2-histology", tri_or(*proofs), "VPBK-M-2", "histology-not-proven", *proofs,
              missing="histologically-proven", why=next((p for p in proofs if p.unknown), proofs[0]),
              cancers=[pick(VPBK_CANCER, c.cancer_type) for c in solid])


def _metastasis_confirmed(a: Assessment, facts: PatientFacts, level: str) -> None:
    records = facts.condition_records("spinal-metastasis", level)
    fractures = [r for r in facts.condition_records("vertebral-fracture", level)
                 if r.level == level and r.subtype == "pathological"]
    if not records and fractures:
        # a pathological fracture with a solid primary: a metastasis until shown otherwise
        a.crit("vpbk.crit.m2-pathological-fracture", None, "VPBK-M-2",
               Fact("vertebral-fracture", True, tuple(r.source for r in fractures), level))
        a.miss("spinal-metastasis", level=level)
    elif records and all(r.suspected for r in records):
        a.crit("vpbk.crit.m2-metastasis-suspected", None, "VPBK-M-2",
               Fact("spinal-metastasis", True, tuple(r.source for r in records), level))
        a.miss("spinal-metastasis", level=level)


def _whole_spine_imaging(a: Assessment, facts: PatientFacts) -> None:
    """Shown on MRI and/or CT of the whole spine: done, not only ordered."""
    mri = facts.event("mri-whole-spine", searched=_IMAGING_SEARCH)
    ct = facts.event("ct-whole-spine", searched=_IMAGING_SEARCH)
    imaging = tri_or(mri, ct)
    a.crit("vpbk.crit.m2-whole-spine-imaging", imaging, "VPBK-M-2", mri, ct)
    if imaging is not True:
        # not done (only ordered, or nothing recorded): the diagnostic is missing
        a.miss("mri-whole-spine", mri if imaging is None else "not-recorded")


def _sins_band_known(a: Assessment, level: str, sins: SinsAssessment) -> None:
    """The protocol needs the band (7-9, >= 10): a missing component that cannot
    change the band (e.g. 13-16) is listed but does not block."""
    settled = sins.band is not None
    a.crit("vpbk.crit.m2-sins", True if settled else None, "VPBK-M-2", sins.fact,
           vertebra=pick(VPBK_LEVEL, level))
    for m in missing_entries(sins):
        a.miss(m.code, m.why, level=m.level, blocks=not settled)


# -- VPBK-M-1 -------------------------------------------------------------------
def _indication(a: Assessment, facts: PatientFacts, level: str, policy: Policy,
                sins: SinsAssessment) -> bool | None:
    """VPBK-M-1; returns the value of the M-1c (surgeon) path."""
    a.rule("VPBK-M-1")
    m1c = _surgical_path(a, facts, level, sins)
    if m1c is True:
        a.notes.append(msg("vpbk.note.m1c-no-pain-criterion"))
        a.indication_path = "M-1c"
        return True
    _pain(a, facts, level, policy)
    _sins_band_and_mdo(a, facts, level, sins)
    return m1c


def _surgical_path(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment) -> bool | None:
    """VPBK-M-1c: SINS >= 7 at an operated or adjacent level and the surgeon's judgement.
    Source 000 section 1: the cement is given *during* the operation ("in geval van een
    operatie onder algehele narcose of sedatie"): a planned operation at the level or next
    to it; one already done is no such occasion (a later VP/BK is percutaneous: M-1a/M-1b).
    None of it recorded: the path is not considered (None, no criterion shown)."""
    surgeries = [e for e in facts.events_of("spinal-surgery", status="planned")
                 if e.level in adjacent_levels(level)]
    surgeon = bool_obs(facts, "surgeon-augmentation-benefit", level)
    if not surgeries and not surgeon.is_known:
        return None
    surgery_fact = Fact("spinal-surgery", bool(surgeries), tuple(e.source for e in surgeries), level)
    m1c = tri_and(bool(surgeries), sins.score_at_least_7, surgeon)
    a.crit("vpbk.crit.m1c", m1c, "VPBK-M-1c", surgery_fact, surgeon, sins.fact)
    return m1c


def _pain(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    """A symptomatic lesion: pain score >= 4 (0-10) at the level or patient-wide."""
    pain = num_obs(facts, "pain-score", level)
    pmin = policy_value(policy, "metastatic_pain_min")
    pain_ok = None if pain.value is None else pain.value >= pmin
    a.require("vpbk.crit.m1-pain", pain_ok, "VPBK-M-1", "pain-below-threshold", pain, missing="pain-score",
              why=pain, minimum=pmin, value="-" if pain.value is None else pain.value)


def _sins_band_and_mdo(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment) -> None:
    """SINS 0-6: no indication; 7-9 (M-1a) and >= 10 (M-1b) need the MDO's judgement."""
    mdo = bool_obs(facts, "mdo-vpbk-benefit", level)
    if sins.band == "0-6":
        a.crit("vpbk.crit.m1-sins-below-7", False, "VPBK-M-1", sins.fact, score=_score_text(sins))
        a.fail("sins-below-7")
        return
    if sins.band is None:
        a.crit("vpbk.crit.m1-sins-undecided", None, "VPBK-M-1", sins.fact, score=_score_text(sins))
        if mdo.value is None:
            a.miss("mdo-vpbk-benefit", mdo, level=level, blocks=False)
        return
    m1b = sins.band == ">=10"
    rule = "VPBK-M-1b" if m1b else "VPBK-M-1a"
    a.indication_path = rule[5:]
    a.crit("vpbk.crit.m1b-mdo" if m1b else "vpbk.crit.m1a-mdo", mdo.value, rule, mdo, sins.fact,
           score=_score_text(sins))
    if mdo.is_false:
        a.fail("mdo-no-benefit")
    elif mdo.is_unknown:
        a.mdo_needed = True
        a.miss("mdo-vpbk-benefit", mdo, level=level, blocks=False)
    if m1b:
        _no_posterior_fixation(a, facts, level)


def _no_posterior_fixation(a: Assessment, facts: PatientFacts, level: str) -> None:
    """Source 000 section 1: "... er op dat niveau geen aanvullende versteviging van de
    posterieure elementen nodig is": part of the M-1b indication, so unknown is never eligible."""
    pfn = bool_obs(facts, "posterior-fixation-needed", level)
    a.crit("vpbk.crit.m1b-no-posterior-fixation", tri_not(pfn), "VPBK-M-1b", pfn)
    if pfn.is_true:
        a.fail("posterior-fixation-needed")
    elif pfn.is_unknown:
        a.mdo_needed = True
        a.miss("posterior-fixation-needed", pfn, level=level, blocks=False)


def _score_text(sins: SinsAssessment) -> str:
    if sins.score is not None:
        return str(sins.score)
    low, high = sins.range
    return f"{low}-{high}"


# -- VPBK-M-3 -------------------------------------------------------------------
_LESION_OF_POINTS = {2: "lytic", 1: "mixed", 0: "blastic"}


def lesion_type(facts: PatientFacts, level: str) -> Fact:
    """Lesion type at the level; from the SINS bone-lesion component when not recorded."""
    lesion = facts.obs("lesion-type", level)
    if lesion.value is None and lesion.unknown is not None and lesion.unknown.value == "not-recorded":
        comp = facts.obs("sins", level).attrs.get("sins-bone-lesion")
        if comp is not None and not isinstance(comp.value, bool) and comp.value in (0, 1, 2):
            return Fact("lesion-type", _LESION_OF_POINTS[comp.value],
                        comp.sources or facts.obs("sins", level).sources, level,
                        note="from SINS bone-lesion component")
    return lesion


def _vertebra(a: Assessment, facts: PatientFacts, level: str, policy: Policy,
              sins: SinsAssessment) -> None:
    _lesion(a, facts, level, policy)
    tech = bool_obs(facts, "vpbk-technically-suitable", level)
    a.require("vpbk.crit.m3-technically-suitable", tech.value, "VPBK-M-3", "not-technically-suitable", tech,
              missing="vpbk-technically-suitable", level=level, why=tech)
    _preferences(a, facts, level, sins)


def _lesion(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    """Lytic or mixed; a blastic (sclerotic) lesion is a relative contraindication (VPBK-M-7)."""
    lesion = lesion_type(facts, level)
    suitable = policy_value(policy, "suitable_lesion_types")
    blastic = policy_value(policy, "blastic_lesion_types")
    if lesion.value is None:
        a.crit("vpbk.crit.m3-lesion", None, "VPBK-M-3", lesion, type="-")
        a.miss("lesion-type", lesion, level=level)
        return
    a.crit("vpbk.crit.m3-lesion", lesion.value in suitable, "VPBK-M-3", lesion,
           type=pick(VPBK_LESION, lesion.value) if lesion.value in suitable + blastic
           else str(lesion.value))
    if lesion.value in blastic:
        a.rule("VPBK-M-7")
        a.add_relative("sclerotic-metastasis")
    elif lesion.value not in suitable:
        a.miss("lesion-type", "unreadable", level=level)


def _preferences(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment) -> None:
    """Shown, never change the verdict."""
    if sins.band == "7-9":
        lpe = bool_obs(facts, "local-progression-expected", level)
        a.preferences["local-progression-expected"] = _pref(lpe.value)
        a.notes.append(msg("vpbk.note.m3-pref-local-progression",
                           value=pick(VPBK_PREFERENCE, _pref(lpe.value))))
    elif sins.band == ">=10":
        value = tri_not(bool_obs(facts, "instability-beyond-augmentation", level))
        a.preferences["body-reinforcement-sufficient"] = _pref(value)
        a.notes.append(msg("vpbk.note.m3-pref-body-alone",
                           value=pick(VPBK_PREFERENCE, _pref(value))))


def _pref(value: bool | None) -> str:
    return {True: "preferred", False: "not-preferred", None: "unknown"}[value]


# -- VPBK-M-4 -------------------------------------------------------------------
def _given(facts: PatientFacts, treatment: str, level: str) -> tuple[Fact, str]:
    """Was the stepped-care treatment given? (the fact, and its data-dictionary name)"""
    if treatment == "systemic-therapy":
        return _or_fact("systemic-therapy",
                        facts.event("systemic-therapy", searched=("Procedure", "MedicationStatement",
                                                                  "MedicationRequest")),
                        facts.medication("systemic-therapy")), "systemic-therapy"
    if treatment == "analgesics":
        # active now, or given and since completed / stopped (Event analgesic done)
        return _or_fact("analgesic", facts.medication("analgesic"),
                        facts.event("analgesic", searched=("MedicationStatement", "MedicationRequest"))), "analgesic"
    return facts.event("radiotherapy", level=level), "radiotherapy"


def _stepped_care(a: Assessment, facts: PatientFacts, level: str) -> None:
    """Given, or deliberately withheld for a recorded reason (a waiver counts only when
    recorded true, and with its reason)."""
    for treatment in STEPPED_CARE:
        given, given_code = _given(facts, treatment, level)
        waiver = level_obs(facts, f"stepped-care-waived.{treatment}", level)
        reason = waiver.attr("reason")
        waived: bool | None = (True if reason.value else None) if waiver.is_true else False
        value = tri_or(given, waived)
        a.crit(VPBK_CRIT_M4[treatment], value, "VPBK-M-4", given, waiver, reason=reason.value or "-")
        if value is False:
            a.fail("stepped-care-incomplete")
            a.stepped_care_missing.append(treatment)
        elif value is None:
            if waived is None:
                a.miss("stepped-care-waived", "not-recorded", level=level)
            else:
                a.miss(given_code, given)
    stepped_care_note(a)


def stepped_care_note(a: Assessment) -> None:
    """Judgement call (lead): name what is missing, and that a treatment withheld
    on purpose is recorded as a waiver with its reason."""
    if a.stepped_care_missing:
        a.notes.append(msg("vpbk.note.m4-record-waiver",
                           treatments=[pick(VPBK_TREATMENT, t) for t in a.stepped_care_missing]))


def _or_fact(name: str, *facts: Fact) -> Fact:
    value = tri_or(*facts)
    sources = tuple(s for f in facts for s in f.sources)
    unknown = next((f.unknown for f in facts if f.unknown), None) if value is None else None
    searched = ", ".join(f.searched for f in facts if f.searched) or None
    return Fact(name, value, sources, None, unknown, searched=searched)


# -- VPBK-M-5 -------------------------------------------------------------------
def _patient(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    _life_expectancy(a, facts, policy)
    prone_condition(a, facts)
    puncture = facts.condition("puncture-site-infection", level)
    a.contraindication("vpbk.crit.m5-no-puncture-infection", puncture.value, "VPBK-M-5", Contra.UNMET_CONDITION,
                       "puncture-site-infection", puncture, missing="puncture-site-infection")
    _performance(a, facts, policy)


def _life_expectancy(a: Assessment, facts: PatientFacts, policy: Policy) -> None:
    """VPBK-M-5: life expectancy in principle >= 3 months (survival-models.md).

    A clinician-recorded estimate decides (below the minimum: unmet unless an MDO
    override is recorded). Without one, the van der Linden model: group B or C
    meets the 3 months; group A (median 3.0 months) is met with a line that it is
    borderline and the MDO judges; a model never fails M-5 on its own. Unknown only
    when neither can be had."""
    life = num_obs(facts, "life-expectancy")
    lmin = policy_value(policy, "life_expectancy_min_months")
    if life.value is not None:
        months = survival.months_for_comparison(life.value)
        ok = months >= lmin
        a.crit("vpbk.crit.m5-life-expectancy", ok, "VPBK-M-5", life, minimum=lmin, value=months)
        a.life_expectancy_basis = "clinician"
        if not ok:
            _unmet_or_override(a, facts, "limited-life-expectancy", "mdo-override-life-expectancy")
        return
    est = survival.van_der_linden(facts, policy)
    if not est.computed:
        a.crit("vpbk.crit.m5-life-expectancy", None, "VPBK-M-5", life, minimum=lmin, value="-")
        a.miss("life-expectancy", life)
        a.notes.append(msg("vpbk.note.m5-survival-model"))
        return
    a.rule("TX-4")
    group = "-".join(dict.fromkeys(est.groups))
    medians = "-".join(dict.fromkeys(f"{m:g}" for m in est.medians))
    a.crit("vpbk.crit.m5-life-expectancy-model", True, "VPBK-M-5", *est.facts, minimum=lmin,
           group=group, median=medians)
    a.life_expectancy_basis = "model"
    a.survival_model = ModelEstimate(model=est.model, group=group, medians=est.medians)
    if est.in_groups(policy_value(policy, "life_expectancy_model_groups_met")) is not True:
        a.notes.append(msg("vpbk.note.m5-model-borderline", group=group, median=medians))
    if any(bool_obs(facts, d, None).is_true for d in _DEFICITS):
        a.notes.append(msg("vpbk.note.m5-model-deficit-caveat"))


def _performance(a: Assessment, facts: PatientFacts, policy: Policy) -> None:
    """WHO PS 0-2 or KPS > 50, each recorded scale judged on its own (policy): met
    when any passes, failed when every recorded one fails, unknown when neither is recorded."""
    kps = num_obs(facts, "karnofsky")
    ecog = num_obs(facts, "ecog")
    kps_min = policy_value(policy, "kps_min_exclusive")
    who_max = policy_value(policy, "who_max")
    passes = [kps.value > kps_min] if kps.value is not None else []
    if ecog.value is not None:
        passes.append(ecog.value <= who_max)
    perf = True if any(passes) else (False if passes else None)
    a.crit("vpbk.crit.m5-performance", perf, "VPBK-M-5", kps, ecog,
           kps="-" if kps.value is None else kps.value, who="-" if ecog.value is None else ecog.value,
           kps_min=kps_min, who_max=who_max)
    if perf is False:
        _unmet_or_override(a, facts, "poor-performance-status", "mdo-override-performance-status")
    elif perf is None:
        a.miss("karnofsky", kps)


def prone_condition(a: Assessment, facts: PatientFacts) -> None:
    """VPBK-M-5: can lie still prone (a property of the patient, not of a level)."""
    prone = bool_obs(facts, "can-lie-prone", None)
    a.contraindication("vpbk.crit.m5-prone", tri_not(prone), "VPBK-M-5", Contra.UNMET_CONDITION,
                       "cannot-lie-prone", prone, missing="can-lie-prone")


def _unmet_or_override(a: Assessment, facts: PatientFacts, code: str, override_name: str) -> None:
    override = facts.obs(override_name)
    if override.is_true:
        a.mdo_overrides.append(code)
        a.crit("vpbk.crit.m5-override", True, "VPBK-M-5", override, condition=pick(VPBK_CODE, code))
    else:
        a.add_unmet_condition(code)


# -- VPBK-M-6 -------------------------------------------------------------------
def _absolute(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment,
              m1c: bool | None, policy: Policy) -> None:
    a.rule("VPBK-M-6")
    _unstable_vertebra(a, facts, level, sins, m1c, policy)
    f, elsewhere = vertebral_infection(facts, level)
    if elsewhere:
        a.crit("vpbk.crit.m6-no-vertebral-infection", None, "VPBK-M-6", f)
        infection_elsewhere(a, elsewhere)
    else:
        a.contraindication("vpbk.crit.m6-no-vertebral-infection", f.value, "VPBK-M-6", Contra.ABSOLUTE,
                           "vertebral-infection", f, missing="vertebral-infection")
    patient_wide_absolute(a, facts)


def _vertebra_stable(facts: PatientFacts, level: str, sins: SinsAssessment, m1c: bool | None,
                     policy: Policy) -> tuple[bool | None, bool, tuple[Fact, Fact, Fact]]:
    """Is the vertebra stable enough for cement alone? (value, M-1c exemption applied, facts)

    Present (False) when instability beyond augmentation or posterior fixation is
    needed (present wins); excluded when instability beyond augmentation is false,
    or the MDO judged VP/BK of benefit (for SINS >= 10 also no posterior fixation)."""
    iba = bool_obs(facts, "instability-beyond-augmentation", level)
    pfn = bool_obs(facts, "posterior-fixation-needed", level)
    mdo = bool_obs(facts, "mdo-vpbk-benefit", level)
    used = (iba, pfn, mdo)
    if m1c is True and pfn.is_true and policy_value(policy, "m1c_posterior_fixation_exempt"):
        # VPBK-M-1c: the surgeon does the posterior fixation, the cement is an adjunct (policy)
        return not iba.is_true, True, used
    if iba.is_true or pfn.is_true:
        return False, False, used
    if iba.is_false or (mdo.is_true and (sins.score_at_least_10 is False or pfn.is_false)):
        return True, False, used
    return None, False, used


def _unstable_vertebra(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment,
                       m1c: bool | None, policy: Policy) -> None:
    stable, exempt, used = _vertebra_stable(facts, level, sins, m1c, policy)
    if exempt:
        a.notes.append(msg("vpbk.note.m1c-posterior-fixation-exempt"))
    a.crit("vpbk.crit.m6-unstable-vertebra", stable, "VPBK-M-6", *used)
    if stable is False:
        a.add_absolute("unstable-vertebra")
    elif stable is None and sins.score_at_least_10 is not False:
        # harmless for SINS <= 9; otherwise the absolute contraindication cannot be excluded
        a.add_absolute_unknown("unstable-vertebra")
        a.notes.append(msg("vpbk.note.m6-unstable-not-excluded"))
        a.miss("instability-beyond-augmentation", used[0], level=level, blocks=False)
    elif stable is None:
        a.notes.append(msg("vpbk.note.m6-unstable-harmless-below-10"))


def infection_elsewhere(a: Assessment, levels: list[str]) -> None:
    """An active spine infection at a non-adjacent level: the MDO judges whether
    it rules out VP/BK here (never shown as absent)."""
    a.add_absolute_unknown("vertebral-infection")
    a.notes.append(msg("vpbk.note.infection-elsewhere", levels=[pick(VPBK_LEVEL, x) for x in levels]))


def patient_wide_absolute(a: Assessment, facts: PatientFacts) -> None:
    """The VPBK-M-6 absolute contraindications that do not depend on the level
    (also checked for an order whose level is unknown)."""
    a.rule("VPBK-M-6")
    systemic = facts.condition("systemic-infection")
    a.contraindication("vpbk.crit.m6-no-systemic-infection", systemic.value, "VPBK-M-6", Contra.ABSOLUTE,
                       "systemic-infection", systemic, missing="systemic-infection")
    _coagulation(a, facts)
    cement = facts.allergy("bone-cement")
    a.contraindication("vpbk.crit.m6-no-bone-cement-allergy", cement.value, "VPBK-M-6", Contra.ABSOLUTE,
                       "bone-cement-allergy", cement, missing="bone-cement-allergy")


def _coagulation(a: Assessment, facts: PatientFacts) -> None:
    """Severe coagulopathy recorded as not correctable; an INR out of range is VPBK-P-1."""
    coag = facts.condition("coagulopathy")
    correctable = bool_obs(facts, "coagulopathy-correctable", None)
    uncorrectable = tri_not(correctable) if coag.is_true else (None if coag.value is None else False)
    a.contraindication("vpbk.crit.m6-coagulation", uncorrectable, "VPBK-M-6", Contra.ABSOLUTE,
                       "uncorrectable-coagulopathy", coag, correctable,
                       missing="coagulopathy-correctable" if coag.is_true else "coagulopathy",
                       why=correctable if coag.is_true else coag)
    if uncorrectable is False and coag.is_true:
        a.notes.append(msg("vpbk.note.m6-correct-coagulation"))


# -- VPBK-M-7 -------------------------------------------------------------------
def epidural_extension(facts: PatientFacts, level: str, policy: Policy) -> tuple[bool | None, Fact, Fact]:
    bilsky = facts.obs("bilsky-grade", level)
    cord = facts.condition("cord-compression", level)
    grades = policy_value(policy, "epidural_bilsky_grades")
    by_bilsky = None if bilsky.value is None else str(bilsky.value) in grades
    return tri_or(by_bilsky, cord), bilsky, cord


def _relative(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    """Each unknown relative contraindication (judgement call, lead) never gives a worse
    verdict than either known value: listed as missing (not blocking), the verdict is
    at best eligible-relative-contraindications and the MDO weighs it."""
    a.rule("VPBK-M-7")
    rad = bool_obs(facts, "radicular-pain", level)
    a.contraindication("vpbk.crit.m7-no-radicular-pain", rad.value, "VPBK-M-7", Contra.RELATIVE,
                       "radicular-pain", rad, missing="radicular-pain")
    epi, bilsky, cord = epidural_extension(facts, level, policy)
    a.contraindication("vpbk.crit.m7-no-epidural-extension", epi, "VPBK-M-7", Contra.RELATIVE,
                       "epidural-extension", bilsky, cord, missing="bilsky-grade", level=level, why=bilsky,
                       grade=bilsky.value if bilsky.value is not None else "-")
    pcf = bool_obs(facts, "posterior-column-fracture", level)
    a.contraindication("vpbk.crit.m7-no-posterior-column-fracture", pcf.value, "VPBK-M-7", Contra.RELATIVE,
                       "posterior-column-fracture", pcf, missing="posterior-column-fracture", level=level)
    _diffuse(a, facts, policy)
    if a.relative_unknown:
        a.notes.append(msg("vpbk.note.m7-relative-unknown",
                           codes=[pick(VPBK_CODE, c) for c in a.relative_unknown]))


def _diffuse(a: Assessment, facts: PatientFacts, policy: Policy) -> None:
    """Diffuse metastases: more than 5 spinal metastases (policy: spinal count), from
    the recorded count, else counted from the spinal-metastasis levels."""
    recorded = num_obs(facts, "spinal-metastasis-count")
    if recorded.value is not None:
        count, count_fact = int(recorded.value), recorded
    else:
        count = len(facts.metastatic_levels())
        count_fact = Fact("spinal-metastasis-count", count,
                          tuple(c.source for c in facts.conditions
                                if c.name == "spinal-metastasis" and c.active and c.level))
    over = policy_value(policy, "diffuse_metastases_over")
    diffuse = count > over
    a.crit("vpbk.crit.m7-no-diffuse-metastases", not diffuse, "VPBK-M-7", count_fact, count=count, limit=over)
    if diffuse:
        a.add_relative("diffuse-metastases")
