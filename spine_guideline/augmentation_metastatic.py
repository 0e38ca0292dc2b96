"""VPBK-M: VP/BK for spinal metastases of solid tumours (source 000), per vertebra."""
from __future__ import annotations

from . import survival
from .augmentation_common import (
    Assessment,
    adjacent_levels,
    bool_obs,
    level_obs,
    num_obs,
    policy_value,
    vertebral_infection,
)
from .facts import CancerCategory, Fact, PatientFacts, tri_or
from .findings import msg
from .policy import Policy
from .sins import SinsAssessment, missing_entries

STEPPED_CARE = ("systemic-therapy", "analgesics", "radiotherapy")
_IMAGING_SEARCH = ("Procedure", "ImagingStudy", "DiagnosticReport")


def assess(facts: PatientFacts, level: str, policy: Policy, sins: SinsAssessment) -> Assessment:
    a = Assessment(level, "metastatic")
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


def _origin(a: Assessment, facts: PatientFacts, level: str) -> None:
    if lesion_origin(facts) != "unclear":
        return
    cancers = [c for c in facts.cancers if c.category in (CancerCategory.SOLID, CancerCategory.HAEMATOLOGICAL)]
    a.crit("vpbk.crit.lesion-origin-unclear", None, "VPBK-O-1",
           *(Fact("cancer", True, (c.source,), note=None if c.active and not c.suspected
                  else ("suspected" if c.suspected else "history")) for c in cancers),
           cancers=[msg(f"vpbk.cancer.{c.cancer_type}") for c in cancers])
    a.miss("lesion-origin", level=level)


# -- VPBK-M-2 -------------------------------------------------------------------
def _diagnostics(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment) -> None:
    _origin(a, facts, level)
    solid = [c for c in facts.cancers if c.category == CancerCategory.SOLID]
    if solid:
        proofs = [c.histologically_proven for c in solid]
        proven = tri_or(*proofs)
        a.crit("vpbk.crit.m2-histology", proven, "VPBK-M-2", *proofs,
               cancers=[msg(f"vpbk.cancer.{c.cancer_type}") for c in solid])
        if proven is False:
            a.fail("histology-not-proven")
        elif proven is None:
            a.miss("histologically-proven", next((p for p in proofs if p.unknown), proofs[0]))
    else:
        a.crit("vpbk.crit.m2-no-solid-primary", None, "VPBK-M-2",
               *(Fact("cancer", True, (c.source,)) for c in facts.cancers))
        a.miss("histologically-proven")
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
    imaging = tri_or(facts.event("mri-whole-spine", searched=_IMAGING_SEARCH),
                     facts.event("ct-whole-spine", searched=_IMAGING_SEARCH))
    mri = facts.event("mri-whole-spine", searched=_IMAGING_SEARCH)
    ct = facts.event("ct-whole-spine", searched=_IMAGING_SEARCH)
    a.crit("vpbk.crit.m2-whole-spine-imaging", imaging, "VPBK-M-2", mri, ct)
    if imaging is not True:
        # not done (only ordered, or nothing recorded): the diagnostic is missing
        a.miss("mri-whole-spine", mri if imaging is None else "not-recorded")
    # the protocol needs the band (7-9, >= 10): a missing component that cannot
    # change the band (e.g. 13-16) is listed but does not block
    settled = sins.band is not None
    a.crit("vpbk.crit.m2-sins", True if settled else None, "VPBK-M-2", sins.fact,
           vertebra=msg(f"vpbk.level.{level}"))
    for m in missing_entries(sins):
        a.miss(m.code, m.why, level=m.level, blocks=not settled)


# -- VPBK-M-1 -------------------------------------------------------------------
def _indication(a: Assessment, facts: PatientFacts, level: str, policy: Policy,
                sins: SinsAssessment) -> bool | None:
    """Returns the value of the M-1c (surgeon) path."""
    a.rule("VPBK-M-1")
    # source 000 section 1: the cement is given *during* the operation ("in geval van een operatie
    # onder algehele narcose of sedatie"): a planned operation at the level or next to it; one
    # already done is no such occasion (a later VP/BK is percutaneous: M-1a/M-1b)
    surgeries = [e for e in facts.events_of("spinal-surgery", status="planned")
                 if e.level in adjacent_levels(level)]
    surgeon = bool_obs(facts, "surgeon-augmentation-benefit", level)
    m1c: bool | None = None
    if surgeries or surgeon.is_known:
        surgery_fact = Fact("spinal-surgery", bool(surgeries), tuple(e.source for e in surgeries), level)
        m1c = tri_and3(bool(surgeries), sins.score_at_least_7, surgeon.value)
        a.crit("vpbk.crit.m1c", m1c, "VPBK-M-1c", surgery_fact, surgeon, sins.fact)
    if m1c is True:
        a.notes.append(msg("vpbk.note.m1c-no-pain-criterion"))
        a.extra["indicationPath"] = "M-1c"
        return True
    pain = num_obs(facts, "pain-score", level)
    pmin = policy_value(policy, "metastatic_pain_min")
    pain_ok = None if pain.value is None else pain.value >= pmin
    a.crit("vpbk.crit.m1-pain", pain_ok, "VPBK-M-1", pain, minimum=pmin,
           value="-" if pain.value is None else pain.value)
    if pain_ok is False:
        a.fail("pain-below-threshold")
    elif pain_ok is None:
        a.miss("pain-score", pain)
    mdo = bool_obs(facts, "mdo-vpbk-benefit", level)
    if sins.band == "0-6":
        a.crit("vpbk.crit.m1-sins-below-7", False, "VPBK-M-1", sins.fact, score=_score_text(sins))
        a.fail("sins-below-7")
        return m1c
    if sins.band is None:
        a.crit("vpbk.crit.m1-sins-undecided", None, "VPBK-M-1", sins.fact, score=_score_text(sins))
        if mdo.value is None:
            a.miss("mdo-vpbk-benefit", mdo, level=level, blocks=False)
        return m1c
    rule = "VPBK-M-1a" if sins.band == "7-9" else "VPBK-M-1b"
    a.extra["indicationPath"] = rule[5:]
    key = "vpbk.crit.m1a-mdo" if rule == "VPBK-M-1a" else "vpbk.crit.m1b-mdo"
    a.crit(key, mdo.value, rule, mdo, sins.fact, score=_score_text(sins))
    if mdo.is_false:
        a.fail("mdo-no-benefit")
    elif mdo.is_unknown:
        a.mdo_needed = True
        a.miss("mdo-vpbk-benefit", mdo, level=level, blocks=False)
    if rule == "VPBK-M-1b":
        # source 000 section 1: "... er op dat niveau geen aanvullende versteviging van de
        # posterieure elementen nodig is": part of the indication, so unknown is never eligible
        pfn = bool_obs(facts, "posterior-fixation-needed", level)
        a.crit("vpbk.crit.m1b-no-posterior-fixation", None if pfn.value is None else not pfn.value,
               rule, pfn)
        if pfn.is_true:
            a.fail("posterior-fixation-needed")
        elif pfn.is_unknown:
            a.mdo_needed = True
            a.miss("posterior-fixation-needed", pfn, level=level, blocks=False)
    return m1c


def tri_and3(*values: bool | None) -> bool | None:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _score_text(sins: SinsAssessment) -> str:
    if sins.score is not None:
        return str(sins.score)
    low, high = sins.range
    return f"{low}-{high}"


# -- VPBK-M-3 -------------------------------------------------------------------
def lesion_type(facts: PatientFacts, level: str) -> Fact:
    """Lesion type at the level; from the SINS bone-lesion component when not recorded."""
    lesion = facts.obs("lesion-type", level)
    if lesion.value is None and lesion.unknown is not None and lesion.unknown.value == "not-recorded":
        comp = facts.obs("sins", level).attrs.get("sins-bone-lesion")
        if comp is not None and comp.value in (0, 1, 2) and not isinstance(comp.value, bool):
            return Fact("lesion-type", {2: "lytic", 1: "mixed", 0: "blastic"}[comp.value],
                        comp.sources or facts.obs("sins", level).sources, level,
                        note="from SINS bone-lesion component")
    return lesion


def _vertebra(a: Assessment, facts: PatientFacts, level: str, policy: Policy,
              sins: SinsAssessment) -> None:
    lesion = lesion_type(facts, level)
    suitable = policy_value(policy, "suitable_lesion_types")
    blastic = policy_value(policy, "blastic_lesion_types")
    if lesion.value is None:
        a.crit("vpbk.crit.m3-lesion", None, "VPBK-M-3", lesion, type="-")
        a.miss("lesion-type", lesion, level=level)
    else:
        a.crit("vpbk.crit.m3-lesion", lesion.value in suitable, "VPBK-M-3", lesion,
               type=msg(f"vpbk.lesion.{lesion.value}") if lesion.value in suitable + blastic
               else str(lesion.value))
        if lesion.value in blastic:
            a.rule("VPBK-M-7")
            a.add_relative("sclerotic-metastasis")
        elif lesion.value not in suitable:
            a.miss("lesion-type", "unreadable", level=level)
    tech = bool_obs(facts, "vpbk-technically-suitable", level)
    a.crit("vpbk.crit.m3-technically-suitable", tech.value, "VPBK-M-3", tech)
    if tech.is_false:
        a.fail("not-technically-suitable")
    elif tech.is_unknown:
        a.miss("vpbk-technically-suitable", tech, level=level)
    # preferences: shown, never change the verdict
    if sins.band == "7-9":
        lpe = bool_obs(facts, "local-progression-expected", level)
        a.preferences["local-progression-expected"] = _pref(lpe.value)
        a.notes.append(msg("vpbk.note.m3-pref-local-progression",
                           value=msg(f"vpbk.preference.{_pref(lpe.value)}")))
    elif sins.band == ">=10":
        iba = bool_obs(facts, "instability-beyond-augmentation", level)
        value = None if iba.value is None else not iba.value
        a.preferences["body-reinforcement-sufficient"] = _pref(value)
        a.notes.append(msg("vpbk.note.m3-pref-body-alone",
                           value=msg(f"vpbk.preference.{_pref(value)}")))


def _neg(value: bool | None) -> bool | None:
    return None if value is None else not value


def _pref(value: bool | None) -> str:
    return {True: "preferred", False: "not-preferred", None: "unknown"}[value]


# -- VPBK-M-4 -------------------------------------------------------------------
def _stepped_care(a: Assessment, facts: PatientFacts, level: str) -> None:
    for treatment in STEPPED_CARE:
        if treatment == "systemic-therapy":
            given = _or_fact("systemic-therapy",
                             facts.event("systemic-therapy", searched=("Procedure", "MedicationStatement",
                                                                       "MedicationRequest")),
                             facts.medication("systemic-therapy"))
            given_code = "systemic-therapy"
        elif treatment == "analgesics":
            # active now, or given and since completed / stopped (Event analgesic done)
            given = _or_fact("analgesic", facts.medication("analgesic"),
                             facts.event("analgesic", searched=("MedicationStatement", "MedicationRequest")))
            given_code = "analgesic"
        else:
            given = facts.event("radiotherapy", level=level)
            given_code = "radiotherapy"
        waiver = level_obs(facts, f"stepped-care-waived.{treatment}", level)
        reason = waiver.attr("reason")
        if waiver.is_true:
            waived = True if reason.value else None
        else:
            waived = False  # a waiver counts only when recorded true
        value = tri_or(given, waived)
        a.crit(f"vpbk.crit.m4-{treatment}", value, "VPBK-M-4", given, waiver,
               reason=reason.value or "-")
        if value is False:
            a.fail("stepped-care-incomplete")
            a.extra.setdefault("steppedCareMissing", []).append(treatment)
        elif value is None:
            if waived is None:
                a.miss("stepped-care-waived", "not-recorded", level=level)
            else:
                a.miss(given_code, given)
    stepped_care_note(a)


def stepped_care_note(a: Assessment) -> None:
    """Judgement call (lead): name what is missing, and that a treatment withheld
    on purpose is recorded as a waiver with its reason."""
    missing = a.extra.get("steppedCareMissing")
    if missing:
        a.notes.append(msg("vpbk.note.m4-record-waiver",
                           treatments=[msg(f"vpbk.treatment.{t}") for t in missing]))


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
    a.crit("vpbk.crit.m5-no-puncture-infection", None if puncture.value is None else not puncture.value,
           "VPBK-M-5", puncture)
    if puncture.is_true:
        a.add_unmet_condition("puncture-site-infection")
    elif puncture.is_unknown:
        a.miss("puncture-site-infection", puncture)
    kps = num_obs(facts, "karnofsky")
    ecog = num_obs(facts, "ecog")
    passes = []
    if kps.value is not None:
        passes.append(kps.value > policy_value(policy, "kps_min_exclusive"))
    if ecog.value is not None:
        passes.append(ecog.value <= policy_value(policy, "who_max"))
    perf = True if any(passes) else (False if passes else None)
    a.crit("vpbk.crit.m5-performance", perf, "VPBK-M-5", kps, ecog,
           kps="-" if kps.value is None else kps.value, who="-" if ecog.value is None else ecog.value,
           kps_min=policy_value(policy, "kps_min_exclusive"), who_max=policy_value(policy, "who_max"))
    if perf is False:
        _unmet_or_override(a, facts, "poor-performance-status", "mdo-override-performance-status")
    elif perf is None:
        a.miss("karnofsky", kps)


_DEFICITS = ("mescc-deficit", "radicular-deficit", "severe-neurological-deficit")


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
        a.extra["lifeExpectancyBasis"] = "clinician"
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
    a.extra["lifeExpectancyBasis"] = "model"
    a.extra["survivalModel"] = {"model": est.model, "group": group, "medianSurvivalMonths": list(est.medians)}
    if est.in_groups(policy_value(policy, "life_expectancy_model_groups_met")) is not True:
        a.notes.append(msg("vpbk.note.m5-model-borderline", group=group, median=medians))
    if any(bool_obs(facts, d, None).is_true for d in _DEFICITS):
        a.notes.append(msg("vpbk.note.m5-model-deficit-caveat"))


def prone_condition(a: Assessment, facts: PatientFacts) -> None:
    """VPBK-M-5: can lie still prone (a property of the patient, not of a level)."""
    prone = bool_obs(facts, "can-lie-prone", None)
    a.crit("vpbk.crit.m5-prone", prone.value, "VPBK-M-5", prone)
    if prone.is_false:
        a.add_unmet_condition("cannot-lie-prone")
    elif prone.is_unknown:
        a.miss("can-lie-prone", prone)


def _unmet_or_override(a: Assessment, facts: PatientFacts, code: str, override_name: str) -> None:
    override = facts.obs(override_name)
    if override.is_true:
        a.mdo_overrides.append(code)
        a.crit("vpbk.crit.m5-override", True, "VPBK-M-5", override, condition=msg(f"vpbk.code.{code}"))
    else:
        a.add_unmet_condition(code)


# -- VPBK-M-6 -------------------------------------------------------------------
def _absolute(a: Assessment, facts: PatientFacts, level: str, sins: SinsAssessment,
              m1c: bool | None, policy: Policy) -> None:
    a.rule("VPBK-M-6")
    iba = bool_obs(facts, "instability-beyond-augmentation", level)
    pfn = bool_obs(facts, "posterior-fixation-needed", level)
    mdo = bool_obs(facts, "mdo-vpbk-benefit", level)
    s10 = sins.score_at_least_10
    exempt = m1c is True and pfn.is_true and policy_value(policy, "m1c_posterior_fixation_exempt")
    if exempt:
        # VPBK-M-1c: the surgeon does the posterior fixation, the cement is an adjunct (policy)
        stable: bool | None = not iba.is_true
        a.notes.append(msg("vpbk.note.m1c-posterior-fixation-exempt"))
    elif iba.is_true or pfn.is_true:
        stable = False
    elif iba.is_false or (mdo.is_true and (s10 is False or pfn.is_false)):
        stable = True
    else:
        stable = None
    a.crit("vpbk.crit.m6-unstable-vertebra", stable, "VPBK-M-6", iba, pfn, mdo)
    if stable is False:
        a.add_absolute("unstable-vertebra")
    elif stable is None and s10 is not False:
        # harmless for SINS <= 9; otherwise the absolute contraindication cannot be excluded
        a.add_absolute_unknown("unstable-vertebra")
        a.notes.append(msg("vpbk.note.m6-unstable-not-excluded"))
        a.miss("instability-beyond-augmentation", iba, level=level, blocks=False)
    elif stable is None:
        a.notes.append(msg("vpbk.note.m6-unstable-harmless-below-10"))
    f, elsewhere = vertebral_infection(facts, level)
    a.crit("vpbk.crit.m6-no-vertebral-infection", _neg(f.value), "VPBK-M-6", f)
    if f.is_true:
        a.add_absolute("vertebral-infection")
    elif elsewhere:
        infection_elsewhere(a, elsewhere)
    elif f.is_unknown:
        a.miss("vertebral-infection", f)
    patient_wide_absolute(a, facts)


def infection_elsewhere(a: Assessment, levels: list[str]) -> None:
    """An active spine infection at a non-adjacent level: the MDO judges whether
    it rules out VP/BK here (never shown as absent)."""
    a.add_absolute_unknown("vertebral-infection")
    a.notes.append(msg("vpbk.note.infection-elsewhere", levels=[msg(f"vpbk.level.{x}") for x in levels]))


def patient_wide_absolute(a: Assessment, facts: PatientFacts) -> None:
    """The VPBK-M-6 absolute contraindications that do not depend on the level
    (also checked for an order whose level is unknown)."""
    a.rule("VPBK-M-6")
    f = facts.condition("systemic-infection")
    a.crit("vpbk.crit.m6-no-systemic-infection", _neg(f.value), "VPBK-M-6", f)
    if f.is_true:
        a.add_absolute("systemic-infection")
    elif f.is_unknown:
        a.miss("systemic-infection", f)
    coag = facts.condition("coagulopathy")
    correctable = bool_obs(facts, "coagulopathy-correctable", None)
    if coag.is_true:
        ok = correctable.value
    else:
        ok = None if coag.value is None else True
    a.crit("vpbk.crit.m6-coagulation", ok, "VPBK-M-6", coag, correctable)
    if ok is False:
        a.add_absolute("uncorrectable-coagulopathy")
    elif ok is None:
        a.miss("coagulopathy-correctable" if coag.is_true else "coagulopathy",
               correctable if coag.is_true else coag)
    elif coag.is_true:
        a.notes.append(msg("vpbk.note.m6-correct-coagulation"))
    cement = facts.allergy("bone-cement")
    a.crit("vpbk.crit.m6-no-bone-cement-allergy", None if cement.value is None else not cement.value,
           "VPBK-M-6", cement)
    if cement.is_true:
        a.add_absolute("bone-cement-allergy")
    elif cement.is_unknown:
        a.miss("bone-cement-allergy", cement)


# -- VPBK-M-7 -------------------------------------------------------------------
def epidural_extension(facts: PatientFacts, level: str, policy: Policy) -> tuple[bool | None, Fact, Fact]:
    bilsky = facts.obs("bilsky-grade", level)
    cord = facts.condition("cord-compression", level)
    grades = policy_value(policy, "epidural_bilsky_grades")
    by_bilsky = None if bilsky.value is None else str(bilsky.value) in grades
    return tri_or(by_bilsky, cord), bilsky, cord


def _relative(a: Assessment, facts: PatientFacts, level: str, policy: Policy) -> None:
    a.rule("VPBK-M-7")
    rad = bool_obs(facts, "radicular-pain", level)
    a.crit("vpbk.crit.m7-no-radicular-pain", _neg(rad.value), "VPBK-M-7", rad)
    if rad.is_true:
        a.add_relative("radicular-pain")
    elif rad.is_unknown:
        _relative_unknown(a, "radicular-pain", "radicular-pain", rad, None)
    epi, bilsky, cord = epidural_extension(facts, level, policy)
    a.crit("vpbk.crit.m7-no-epidural-extension", _neg(epi), "VPBK-M-7", bilsky, cord,
           grade=bilsky.value if bilsky.value is not None else "-")
    if epi is True:
        a.add_relative("epidural-extension")
    elif epi is None:
        _relative_unknown(a, "epidural-extension", "bilsky-grade", bilsky, level)
    pcf = bool_obs(facts, "posterior-column-fracture", level)
    a.crit("vpbk.crit.m7-no-posterior-column-fracture", _neg(pcf.value), "VPBK-M-7", pcf)
    if pcf.is_true:
        a.add_relative("posterior-column-fracture")
    elif pcf.is_unknown:
        _relative_unknown(a, "posterior-column-fracture", "posterior-column-fracture", pcf, level)
    recorded = num_obs(facts, "spinal-metastasis-count")
    if recorded.value is not None:
        count, count_fact = int(recorded.value), recorded
    else:
        levels = facts.metastatic_levels()
        count = len(levels)
        count_fact = Fact("spinal-metastasis-count", count,
                          tuple(c.source for c in facts.conditions
                                if c.name == "spinal-metastasis" and c.active and c.level))
    over = policy_value(policy, "diffuse_metastases_over")
    diffuse = count > over
    a.crit("vpbk.crit.m7-no-diffuse-metastases", not diffuse, "VPBK-M-7", count_fact, count=count, limit=over)
    if diffuse:
        a.add_relative("diffuse-metastases")
    if a.relative_unknown:
        a.notes.append(msg("vpbk.note.m7-relative-unknown",
                           codes=[msg(f"vpbk.code.{c}") for c in a.relative_unknown]))


def _relative_unknown(a: Assessment, code: str, fact_code: str, fact: Fact, level: str | None) -> None:
    """Judgement call (lead): an unknown relative contraindication never gives a
    worse verdict than either known value: listed as missing (not blocking), the
    verdict is at best eligible-relative-contraindications and the MDO weighs it."""
    a.add_relative_unknown(code)
    a.miss(fact_code, fact, level=level, blocks=False)
