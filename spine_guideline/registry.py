"""The one list of guideline rules: every rule ID the service decides by.

Each :class:`Rule` names its card topic(s), the source document and section it
comes from, the data-file thresholds it reads (``section.key`` in
``spine_guideline/data/*.json``, each of which carries its own source) and
whether it makes a policy choice the sources leave open.  Cards, message
catalogs, rule pages and the coverage test all take their IDs from here; an ID
that is not in :data:`RULES` is a bug (``rule(...)`` raises).

The sources (``SOURCES``) are cited by title; the human texts of the rule pages
(what a rule decides, in Dutch and English) live with the service, which
serves them at ``/guideline/rules/{RULE-ID}``.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from . import GUIDELINE_VERSION

#: The five source documents, by the number the rules cite them with.
SOURCES: Mapping[str, str] = {
    "000": "Indicatieprotocol vertebroplastiek of ballonkyfoplastiek bij wervelmetastasen (bijlage)",
    "001": "Percutane vertebroplastiek en ballonkyfoplastiek (voordracht, vooral osteoporotische fracturen)",
    "002": "Richtlijn Wervelmetastasen: toelichting bij de stroomdiagrammen Diagnostiek en Behandeling",
    "003": "Vertebroplastiek: behandeling van gebroken ruggenwervels (patiëntenfolder)",
    "004": "Vertebroplasty (palliative-care wiki page)",
}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str                       # English working title; the pages carry both languages
    topics: tuple[str, ...]          # card topics whose cards cite it
    source: str                      # key of SOURCES
    section: str                     # where in the source
    thresholds: tuple[str, ...] = ()  # "section.key" of the policy data files
    policy: bool = False             # makes a choice the sources leave open (guideline "policy")
    parent: str | None = None        # DX-2a -> DX-2

    @property
    def family(self) -> str:
        """DX, TX, VPBK-M, VPBK-O, VPBK-T or VPBK-P."""
        return self.id.rsplit("-", 1)[0]


def _r(rid: str, title: str, topics: str, source: str, section: str, thresholds: str = "",
       policy: bool = False, parent: str | None = None) -> Rule:
    return Rule(rid, title, tuple(topics.split()), source, section, tuple(thresholds.split()), policy, parent)


_MRI = "diagnosis.mri_window_hours diagnosis.onset_recent_days"
_TXW = "treatment.window_hours treatment.rapid_progression_max_days treatment.radiological_mescc_bilsky"

_ALL: tuple[Rule, ...] = (
    # --- DX: diagnosis (source 002, Diagnostiek)
    _r("DX-1", "Alarm symptoms and suspicion", "mri-urgency", "002", "Diagnostiek, punt 1",
       "diagnosis.alarm_symptoms diagnosis.back_pain_implied_by", policy=True),
    _r("DX-2", "MRI of the whole spine, with a deadline", "mri-urgency mri-order", "002", "Diagnostiek, punt 2",
       _MRI + " diagnosis.indicator_critical_max_hours diagnosis.indicator_warning_max_hours"
       " diagnosis.unknown_onset_takes_stricter_row diagnosis.unknown_progression_takes_stricter_row"
       " diagnosis.unknown_laterality_counts_as_bilateral diagnosis.order_priority_hours", policy=True),
    _r("DX-2a", "MRI within 12 hours", "mri-urgency mri-order", "002", "Diagnostiek, punt 2",
       "diagnosis.mri_window_hours", parent="DX-2"),
    _r("DX-2b", "MRI within 24 hours", "mri-urgency mri-order", "002", "Diagnostiek, punt 2", _MRI, parent="DX-2"),
    _r("DX-2c", "MRI within 48 hours", "mri-urgency mri-order", "002", "Diagnostiek, punt 2",
       _MRI + " diagnosis.stable_unilateral_deficit_row", policy=True, parent="DX-2"),
    _r("DX-2d", "MRI within 1 week", "mri-urgency mri-order", "002", "Diagnostiek, punt 2",
       "diagnosis.mri_window_hours", policy=True, parent="DX-2"),
    _r("DX-2e", "MRI within 2 weeks", "mri-urgency mri-order", "002", "Diagnostiek, punt 2",
       "diagnosis.mri_window_hours", parent="DX-2"),
    _r("DX-2f", "Safety-netting: contact when symptoms change", "mri-urgency", "002", "Diagnostiek, punt 2",
       parent="DX-2"),
    _r("DX-3", "Early corticosteroids with severe deficit", "corticosteroids", "002",
       "Diagnostiek, punt 1; Behandeling, punt 1",
       "diagnosis.dexamethasone_loading_mg_iv diagnosis.dexamethasone_daily_mg_oral"
       " diagnosis.corticosteroid_advice_indicator", policy=True),
    _r("DX-4", "Doubt about the link with a known tumour", "diagnostic-workup", "002", "Diagnostiek, punt 3",
       "diagnosis.doubt_interval_years_lung diagnosis.doubt_interval_years_other diagnosis.doubt_interval_lung_types"),
    _r("DX-5", "(PET-)CT and biopsy", "diagnostic-workup", "002", "Diagnostiek, punt 4"),
    _r("DX-6", "Withhold corticosteroids until tissue diagnosis", "corticosteroids", "002", "Diagnostiek, punt 5",
       policy=True),
    _r("DX-7", "Progressive deficit despite corticosteroids", "corticosteroids", "002", "Diagnostiek, punt 5",
       "diagnosis.dx7_indicator", policy=True),
    # --- TX: treatment (source 002, Behandeling)
    _r("TX-1", "Dexamethasone dose with severe deficit", "corticosteroids", "002", "Behandeling, punt 1",
       "treatment.dexamethasone"),
    _r("TX-2", "Start of treatment, with a deadline", "treatment-window", "002", "Behandeling, punt 1",
       _TXW + " treatment.indicator_critical_max_hours treatment.indicator_warning_max_hours", policy=True),
    _r("TX-2a", "Treatment within 24 hours", "treatment-window", "002", "Behandeling, punt 1", _TXW,
       policy=True, parent="TX-2"),
    _r("TX-2b", "Treatment within 72 hours", "treatment-window", "002", "Behandeling, punt 1", _TXW,
       policy=True, parent="TX-2"),
    _r("TX-2c", "Treatment within 7 days", "treatment-window", "002", "Behandeling, punt 1", _TXW,
       policy=True, parent="TX-2"),
    _r("TX-2d", "Treatment within 14 days", "treatment-window", "002", "Behandeling, punt 1",
       "treatment.window_hours", parent="TX-2"),
    _r("TX-3", "Multidisciplinary meeting (MDO)", "mdo-referral", "002", "Behandeling, punt 1",
       "treatment.mdo_base_disciplines treatment.mdo_indicator_not_referred", policy=True),
    _r("TX-4", "Survival estimate with a prediction model", "survival-estimate", "002", "Behandeling, punt 2",
       "survival.vdl_kps_points survival.vdl_tumour_points survival.vdl_visceral_points survival.vdl_groups"
       " survival.kps_round_down_to_decile survival.ecog_to_kps survival.unknown_primary_as_other", policy=True),
    _r("TX-5", "Involve a spine surgeon", "mdo-referral treatment-modality", "002", "Behandeling, punt 4",
       "treatment.complete_cord_lesion_max_hours treatment.max_contiguous_vertebrae"),
    _r("TX-6", "Systemic therapy first", "treatment-modality", "002", "Behandeling, punt 3",
       "treatment.fast_effect_tumours"),
    _r("TX-7", "Radiotherapy or surgery", "treatment-modality", "002", "Behandeling, punt 5",
       "treatment.sins_unstable_min", policy=True),
    _r("TX-7a", "Re-irradiation", "treatment-modality", "002", "Behandeling, punt 7", parent="TX-7"),
    _r("TX-7b", "Shared choice after urgent consultation", "treatment-modality", "002", "Behandeling, punt 6",
       parent="TX-7"),
    _r("TX-7c", "Surgical approach", "treatment-modality", "002", "Behandeling, punt 8", parent="TX-7"),
    _r("TX-8", "Radiotherapy dose", "rt-dose", "002", "Behandeling, punt 9", "treatment.rt_schedules"),
    _r("TX-8a", "Solitary or oligometastases: 30-39 Gy", "rt-dose", "002", "Behandeling, punt 9",
       "treatment.oligometastatic_max_lesions treatment.rt_schedules", policy=True, parent="TX-8"),
    _r("TX-8b", "Deficit, good condition, > 1 year: 30 Gy", "rt-dose", "002", "Behandeling, punt 9",
       "treatment.good_condition_min_kps treatment.good_condition_max_ecog treatment.life_expectancy_long_months"
       " survival.over_one_year_groups treatment.rt_schedules", policy=True, parent="TX-8"),
    _r("TX-8c", "All other cases: 1 x 8 Gy", "rt-dose", "002", "Behandeling, punt 9", "treatment.rt_schedules",
       parent="TX-8"),
    _r("TX-9", "Aftercare", "aftercare", "002", "Behandeling, punt 10 (palliatieve zorg)",
       "treatment.corticosteroid_taper_weeks"),
    _r("TX-10", "Best supportive care", "aftercare treatment-modality", "002", "Behandeling, punt 10"),
    # --- VPBK-M: VP/BK for spinal metastases of solid tumours (source 000)
    _r("VPBK-M-1", "Indication by SINS and pain", "vpbk-eligibility", "000", "1. Indicatie",
       "augmentation.metastatic_pain_min sins.protocol_bands"),
    _r("VPBK-M-1a", "SINS 7-9 with MDO judgement", "vpbk-eligibility", "000", "1. Indicatie",
       "sins.protocol_bands augmentation.mdo_disciplines", policy=True, parent="VPBK-M-1"),
    _r("VPBK-M-1b", "SINS 10 or more with MDO judgement", "vpbk-eligibility", "000", "1. Indicatie",
       "sins.protocol_bands augmentation.mdo_disciplines", policy=True, parent="VPBK-M-1"),
    _r("VPBK-M-1c", "Augmentation during spine surgery", "vpbk-eligibility", "000", "1. Indicatie",
       "augmentation.m1c_posterior_fixation_exempt", policy=True, parent="VPBK-M-1"),
    _r("VPBK-M-2", "Required diagnostics", "vpbk-eligibility", "000", "2. Benodigde diagnostiek"),
    _r("VPBK-M-3", "Features of the vertebra", "vpbk-eligibility", "000", "3. Kenmerken wervel",
       "augmentation.suitable_lesion_types augmentation.blastic_lesion_types"),
    _r("VPBK-M-4", "Stepped care first", "vpbk-eligibility", "000", "4. Voorafgaande behandelingen (stepped care)"),
    _r("VPBK-M-5", "Patient conditions", "vpbk-eligibility", "000", "5. Patiëntgebonden voorwaarden",
       "augmentation.life_expectancy_min_months augmentation.kps_min_exclusive augmentation.who_max", policy=True),
    _r("VPBK-M-6", "Absolute contraindications", "vpbk-eligibility", "000", "6. Contra-indicaties (absoluut)"),
    _r("VPBK-M-7", "Relative contraindications", "vpbk-eligibility", "000", "6. Contra-indicaties (relatief)",
       "augmentation.diffuse_metastases_over augmentation.epidural_bilsky_grades augmentation.blastic_lesion_types",
       policy=True),
    _r("VPBK-M-8", "Shared decision making", "vpbk-eligibility", "000",
       "7. Ontwikkeling informatie voor samen beslissen", "augmentation.leaflet_url", policy=True),
    _r("VPBK-M-9", "Who performs the procedure", "vpbk-eligibility", "000", "8. Kwaliteitseisen"),
    # --- VPBK-O: osteoporotic and other non-metastatic fractures (sources 001, 004)
    _r("VPBK-O-1", "Indications for non-metastatic fractures", "vpbk-eligibility", "001",
       "Percutane vertebroplastiek: indicatie; trauma", "augmentation.traumatic_stable_magerl"),
    _r("VPBK-O-2", "Patient selection", "vpbk-eligibility", "001", "Patiënt selectie",
       "augmentation.benign_severe_pain_min", policy=True),
    _r("VPBK-O-3", "Timing after an osteoporotic fracture", "vpbk-eligibility", "001", "Conservatieve behandeling; "
       "conclusie", "augmentation.osteoporotic_wait_min_days augmentation.osteoporotic_wait_full_days"
       " augmentation.order_warning_only_contraindications", policy=True),
    _r("VPBK-O-4", "Acute fracture: marrow oedema on MRI", "vpbk-eligibility", "004", "Indications; work-up"),
    _r("VPBK-O-5", "Contraindications (non-metastatic)", "vpbk-eligibility", "001", "Contra-indicaties"),
    _r("VPBK-O-6", "Work-up before VP/BK", "vpbk-eligibility", "001", "Work-up"),
    # --- VPBK-T: technique (source 001)
    _r("VPBK-T-1", "Levels each technique can treat", "vpbk-eligibility", "001", "PVP versus BKP",
       "augmentation.vp_level_range augmentation.bk_level_range"),
    _r("VPBK-T-2", "Extra contraindications for BK", "vpbk-eligibility", "001", "PVP versus BKP",
       "augmentation.bk_level_range augmentation.vertebra_plana_collapse_pct", policy=True),
    _r("VPBK-T-3", "VP versus BK", "vpbk-eligibility", "001", "PVP versus BKP"),
    _r("VPBK-T-4", "Outcomes and risks", "vpbk-eligibility", "001", "Resultaten; complicaties (and 004)"),
    # --- VPBK-P: before the procedure (sources 001, 003)
    _r("VPBK-P-1", "INR below the limit", "vpbk-preprocedure", "003", "Staken van medicatie",
       "augmentation.inr_max_exclusive", policy=True),
    _r("VPBK-P-2", "Anticoagulants and antiplatelets", "vpbk-preprocedure", "003", "Staken van medicatie"),
    _r("VPBK-P-3", "Labs, ECG and chest X-ray", "vpbk-preprocedure", "001", "Work-up: laboratorium en ECG"),
    _r("VPBK-P-4", "Hypersensitivities known", "vpbk-preprocedure", "003", "Allergieën"),
    _r("VPBK-P-5", "Pregnancy", "vpbk-preprocedure", "003", "Zwangerschap",
       "augmentation.pregnancy_age_min augmentation.pregnancy_age_max", policy=True),
    _r("VPBK-P-6", "Preparation and aftercare", "vpbk-preprocedure", "003", "Voorbereiding; na de behandeling"),
)

RULES: Mapping[str, Rule] = {r.id: r for r in _ALL}
RULES_VERSION = GUIDELINE_VERSION


class UnknownRule(KeyError):
    """A rule ID that the registry does not know: a bug in the caller."""


def rule(rule_id: str) -> Rule:
    try:
        return RULES[rule_id]
    except KeyError:
        raise UnknownRule(f"rule ID {rule_id!r} is not in the registry") from None


def children(rule_id: str) -> tuple[Rule, ...]:
    return tuple(r for r in _ALL if r.parent == rule_id)


def by_topic(topic: str) -> Iterator[Rule]:
    return (r for r in _ALL if topic in r.topics)


FAMILIES: Mapping[str, str] = {
    "DX": "Diagnosis of suspected spinal metastases",
    "TX": "Treatment of spinal metastases",
    "VPBK-M": "VP/BK for spinal metastases of solid tumours",
    "VPBK-O": "VP/BK for osteoporotic and other non-metastatic fractures",
    "VPBK-T": "VP/BK technique",
    "VPBK-P": "Before the procedure",
}
