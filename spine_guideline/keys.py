"""Message keys chosen by a code, written out so that every key is greppable.

A rule picks a key from one of these tables by the code it decided on; a code
outside a table is a bug and raises ``KeyError`` (never a silently wrong text).
``tests/test_message_keys.py`` holds every key here and in every module of the
rules layer (DX, TX, VP/BK and SINS) to both catalogs (``cds_service/messages/{nl,en}``),
and fails on a key put together at run time.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .findings import Message, msg

#: the finding named in DX notes, by fact name
DX_FACT: Mapping[str, str] = {
    "radicular-deficit": "dx.fact.radicular-deficit",
    "severe-neurological-deficit": "dx.fact.severe-neurological-deficit",
    "mescc-deficit": "dx.fact.mescc-deficit",
    "radicular-pain": "dx.fact.radicular-pain",
    "back-pain": "dx.fact.back-pain",
}
DX_FACT_FINDINGS = "dx.fact.findings"

DX_CANCER: Mapping[str, str] = {
    "breast": "dx.cancer.breast",
    "prostate": "dx.cancer.prostate",
    "lung": "dx.cancer.lung",
    "kidney": "dx.cancer.kidney",
    "thyroid": "dx.cancer.thyroid",
    "multiple-myeloma": "dx.cancer.multiple-myeloma",
    "non-hodgkin-lymphoma": "dx.cancer.non-hodgkin-lymphoma",
    "germ-cell-tumour": "dx.cancer.germ-cell-tumour",
    "other-solid": "dx.cancer.other-solid",
    "other-haematological": "dx.cancer.other-haematological",
    "secondary": "dx.cancer.secondary",
    "unknown-primary": "dx.cancer.unknown-primary",
    "unrecognised": "dx.cancer.unrecognised",
}

DX_PRIORITY: Mapping[str, str] = {
    "stat": "dx.priority.stat",
    "asap": "dx.priority.asap",
    "urgent": "dx.priority.urgent",
    "routine": "dx.priority.routine",
}

DX_REASON: Mapping[str, str] = {
    "no-known-primary": "dx.reason.no-known-primary",
    "atypical-radiology": "dx.reason.atypical-radiology",
    "no-progression-elsewhere": "dx.reason.no-progression-elsewhere",
    "long-interval": "dx.reason.long-interval",
}

DX_STEP: Mapping[str, str] = {
    "pet-ct": "dx.step.pet-ct",
    "spine-lesion-biopsy": "dx.step.spine-lesion-biopsy",
}

DX_ALARM_CRITERION: Mapping[str, str] = {
    "night-pain": "dx.crit.alarm.night-pain",
    "progressive-pain": "dx.crit.alarm.progressive-pain",
    "new-local-back-pain": "dx.crit.alarm.new-local-back-pain",
    "spinal-percussion-pain": "dx.crit.alarm.spinal-percussion-pain",
    "poor-general-condition": "dx.crit.alarm.poor-general-condition",
}

#: DX-2 row criteria: (plain, with the days since onset)
DX_ROW_CRITERION: Mapping[str, tuple[str, str | None]] = {
    "DX-2a": ("dx.crit.row.DX-2a", None),
    "DX-2b": ("dx.crit.row.DX-2b", "dx.crit.row.DX-2b.days"),
    "DX-2c": ("dx.crit.row.DX-2c", "dx.crit.row.DX-2c.days"),
    "DX-2d": ("dx.crit.row.DX-2d", None),
    "DX-2e": ("dx.crit.row.DX-2e", None),
}

#: DX-2 conclusions by (row, variant); variant None is the plain table row
DX_MRI_CONCLUSION: Mapping[tuple[str, str | None], str] = {
    ("DX-2a", None): "dx.mri.conclusion.DX-2a",
    ("DX-2b", None): "dx.mri.conclusion.DX-2b",
    ("DX-2c", None): "dx.mri.conclusion.DX-2c",
    ("DX-2d", None): "dx.mri.conclusion.DX-2d",
    ("DX-2e", None): "dx.mri.conclusion.DX-2e",
    ("DX-2a", "laterality-unknown"): "dx.mri.conclusion.DX-2a.laterality-unknown",
    ("DX-2b", "progression-unknown"): "dx.mri.conclusion.DX-2b.progression-unknown",
    ("DX-2b", "onset-unknown"): "dx.mri.conclusion.DX-2b.onset-unknown",
    ("DX-2b", "onset-progression-unknown"): "dx.mri.conclusion.DX-2b.onset-progression-unknown",
    ("DX-2c", "progression-unknown"): "dx.mri.conclusion.DX-2c.progression-unknown",
}
DX_MRI_CONCLUSION_STABLE = "dx.mri.conclusion.stable"

#: mri-urgency without a decided suspicion: (summary, conclusion) per variant
DX_MRI_ASSESS: Mapping[str, tuple[str, str]] = {
    "assess": ("dx.mri.summary.assess", "dx.mri.conclusion.assess"),
    "assess-neuro": ("dx.mri.summary.assess-neuro", "dx.mri.conclusion.assess-neuro"),
    "assess-both": ("dx.mri.summary.assess-both", "dx.mri.conclusion.assess-both"),
}

DX_INTERVAL_REF: Mapping[str, str] = {
    "spinal-metastasis": "dx.interval-ref.spinal-metastasis",
    "now": "dx.interval-ref.now",
}

DX_WORKUP_NOTE: Mapping[str, str] = {
    "done": "dx.note.workup-done",
    "planned": "dx.note.workup-planned",
}

TX_DEFICIT: Mapping[str, str] = {
    "mescc-deficit": "tx.deficit.mescc-deficit",
    "radicular-deficit": "tx.deficit.radicular-deficit",
    "severe-neurological-deficit": "tx.deficit.severe-neurological-deficit",
}

TX_WINDOW_DURATION: Mapping[int, str] = {
    24: "tx.window.duration.24",
    72: "tx.window.duration.72",
    168: "tx.window.duration.168",
    336: "tx.window.duration.336",
}

TX_WINDOW_POLICY_NOTE: Mapping[str, str] = {
    "day-limit": "tx.window.note.policy-day-limit",
    "severe-pronounced": "tx.window.note.policy-severe-pronounced",
    "severe-without-mescc": "tx.window.note.policy-severe-without-mescc",
    "slow-not-walking": "tx.window.note.policy-slow-not-walking",
    "stable-deficit": "tx.window.note.policy-stable-deficit",
}

TX_WINDOW_CONCLUSION: Mapping[str, str] = {
    "generic": "tx.window.conclusion.generic",
    "none": "tx.window.conclusion.none",
    "radiological": "tx.window.conclusion.radiological",
    "rapid": "tx.window.conclusion.rapid",
    "severe": "tx.window.conclusion.severe",
    "severe-without-mescc": "tx.window.conclusion.severe-without-mescc",
    "slow-not-walking": "tx.window.conclusion.slow-not-walking",
    "slow-walking": "tx.window.conclusion.slow-walking",
    "stable-not-walking": "tx.window.conclusion.stable-not-walking",
    "stable-walking": "tx.window.conclusion.stable-walking",
}

TX_WINDOW_DEFICIT_CRITERION: Mapping[str, str] = {
    "severe-neurological-deficit": "tx.window.crit.severe-neurological-deficit",
    "radicular-deficit": "tx.window.crit.radicular-deficit",
}

TX_EVENT_STATUS: Mapping[str, str] = {
    "done": "tx.event-status.done",
    "planned": "tx.event-status.planned",
}

TX_TUMOUR: Mapping[str, str] = {
    "breast": "tx.tumour.breast",
    "lung": "tx.tumour.lung",
    "other": "tx.tumour.other",
    "prostate": "tx.tumour.prostate",
}

TX_TREATMENT: Mapping[str, str] = {
    "radiotherapy": "tx.treatment.radiotherapy",
    "spinal-surgery": "tx.treatment.spinal-surgery",
}

TX_SURVIVAL_SCALE: Mapping[str, str] = {
    "ecog": "tx.survival.input.ecog",
    "karnofsky": "tx.survival.input.karnofsky",
}

#: TX-8 rows: (schedule text, conclusion)
TX_RT_DOSE: Mapping[str, tuple[str, str]] = {
    "TX-8a": ("tx.rtdose.schedule.TX-8a", "tx.rtdose.conclusion.TX-8a"),
    "TX-8b": ("tx.rtdose.schedule.TX-8b", "tx.rtdose.conclusion.TX-8b"),
    "TX-8c": ("tx.rtdose.schedule.TX-8c", "tx.rtdose.conclusion.TX-8c"),
}

#: treatment-modality: (summary, conclusion) per first choice
TX_MODALITY: Mapping[str, tuple[str, str]] = {
    "radiotherapy": ("tx.modality.summary.radiotherapy", "tx.modality.conclusion.radiotherapy"),
    "surgery": ("tx.modality.summary.surgery", "tx.modality.conclusion.surgery"),
    "systemic-therapy": ("tx.modality.summary.systemic-therapy", "tx.modality.conclusion.systemic-therapy"),
    "undecided": ("tx.modality.summary.undecided", "tx.modality.conclusion.undecided"),
}

TX_MDO_DISCIPLINE: Mapping[str, str] = {
    "treating-specialist": "tx.mdo.crit.discipline.treating-specialist",
    "radiation-oncology": "tx.mdo.crit.discipline.radiation-oncology",
    "radiology": "tx.mdo.crit.discipline.radiology",
    "neurology": "tx.mdo.crit.discipline.neurology",
    "spine-surgery": "tx.mdo.crit.discipline.spine-surgery",
}


# --- VP/BK and SINS (augmentation*, sins) -----------------------------------

#: a vertebra named in VP/BK and SINS texts, by level (``unknown``: level not known)
VPBK_LEVEL: Mapping[str, str] = {
    "C1": "vpbk.level.C1",
    "C2": "vpbk.level.C2",
    "C3": "vpbk.level.C3",
    "C4": "vpbk.level.C4",
    "C5": "vpbk.level.C5",
    "C6": "vpbk.level.C6",
    "C7": "vpbk.level.C7",
    "T1": "vpbk.level.T1",
    "T2": "vpbk.level.T2",
    "T3": "vpbk.level.T3",
    "T4": "vpbk.level.T4",
    "T5": "vpbk.level.T5",
    "T6": "vpbk.level.T6",
    "T7": "vpbk.level.T7",
    "T8": "vpbk.level.T8",
    "T9": "vpbk.level.T9",
    "T10": "vpbk.level.T10",
    "T11": "vpbk.level.T11",
    "T12": "vpbk.level.T12",
    "L1": "vpbk.level.L1",
    "L2": "vpbk.level.L2",
    "L3": "vpbk.level.L3",
    "L4": "vpbk.level.L4",
    "L5": "vpbk.level.L5",
    "S1": "vpbk.level.S1",
    "S2": "vpbk.level.S2",
    "S3": "vpbk.level.S3",
    "S4": "vpbk.level.S4",
    "S5": "vpbk.level.S5",
    "unknown": "vpbk.level.unknown",
}

#: VP/BK pathway names
VPBK_PATHWAY: Mapping[str, str] = {
    "metastatic": "vpbk.pathway.metastatic",
    "osteoporotic-benign": "vpbk.pathway.osteoporotic-benign",
}

#: VP/BK card summaries, by verdict (``no-technique``, ``not-eligible-stepped-care`` included)
VPBK_SUMMARY: Mapping[str, str] = {
    "eligible": "vpbk.summary.eligible",
    "eligible-relative-contraindications": "vpbk.summary.eligible-relative-contraindications",
    "mdo-review-needed": "vpbk.summary.mdo-review-needed",
    "not-eligible": "vpbk.summary.not-eligible",
    "insufficient-data": "vpbk.summary.insufficient-data",
    "no-technique": "vpbk.summary.no-technique",
    "not-eligible-stepped-care": "vpbk.summary.not-eligible-stepped-care",
}

#: VP/BK card conclusions, by verdict
VPBK_CONCLUSION: Mapping[str, str] = {
    "eligible": "vpbk.conclusion.eligible",
    "eligible-relative-contraindications": "vpbk.conclusion.eligible-relative-contraindications",
    "mdo-review-needed": "vpbk.conclusion.mdo-review-needed",
    "not-eligible": "vpbk.conclusion.not-eligible",
    "insufficient-data": "vpbk.conclusion.insufficient-data",
}

#: VP/BK reasons: contraindication, unmet condition and unmet criterion codes
VPBK_CODE: Mapping[str, str] = {
    "unstable-vertebra": "vpbk.code.unstable-vertebra",
    "vertebral-infection": "vpbk.code.vertebral-infection",
    "systemic-infection": "vpbk.code.systemic-infection",
    "uncorrectable-coagulopathy": "vpbk.code.uncorrectable-coagulopathy",
    "bone-cement-allergy": "vpbk.code.bone-cement-allergy",
    "radicular-pain": "vpbk.code.radicular-pain",
    "epidural-extension": "vpbk.code.epidural-extension",
    "posterior-column-fracture": "vpbk.code.posterior-column-fracture",
    "sclerotic-metastasis": "vpbk.code.sclerotic-metastasis",
    "diffuse-metastases": "vpbk.code.diffuse-metastases",
    "pain-resolved": "vpbk.code.pain-resolved",
    "no-recent-fracture": "vpbk.code.no-recent-fracture",
    "cannot-lie-prone": "vpbk.code.cannot-lie-prone",
    "poor-cardiopulmonary-condition": "vpbk.code.poor-cardiopulmonary-condition",
    "retropulsion": "vpbk.code.retropulsion",
    "coagulopathy": "vpbk.code.coagulopathy",
    "too-early": "vpbk.code.too-early",
    "procedure-material-allergy": "vpbk.code.procedure-material-allergy",
    "puncture-site-infection": "vpbk.code.puncture-site-infection",
    "limited-life-expectancy": "vpbk.code.limited-life-expectancy",
    "poor-performance-status": "vpbk.code.poor-performance-status",
    "histology-not-proven": "vpbk.code.histology-not-proven",
    "pain-below-threshold": "vpbk.code.pain-below-threshold",
    "sins-below-7": "vpbk.code.sins-below-7",
    "mdo-no-benefit": "vpbk.code.mdo-no-benefit",
    "not-technically-suitable": "vpbk.code.not-technically-suitable",
    "stepped-care-incomplete": "vpbk.code.stepped-care-incomplete",
    "pain-not-severe": "vpbk.code.pain-not-severe",
    "conservative-treatment-not-failed": "vpbk.code.conservative-treatment-not-failed",
    "pain-not-at-fracture-level": "vpbk.code.pain-not-at-fracture-level",
    "radiating-pain": "vpbk.code.radiating-pain",
    "not-lytic": "vpbk.code.not-lytic",
    "posterior-fixation-needed": "vpbk.code.posterior-fixation-needed",
    "not-recorded": "vpbk.code.not-recorded",
}

#: the facts VP/BK names (missing data, recorded at another level), by fact code
VPBK_FACT: Mapping[str, str] = {
    "sins": "vpbk.fact.sins",
    "sins-location": "vpbk.fact.sins-location",
    "sins-pain": "vpbk.fact.sins-pain",
    "sins-bone-lesion": "vpbk.fact.sins-bone-lesion",
    "sins-alignment": "vpbk.fact.sins-alignment",
    "sins-collapse": "vpbk.fact.sins-collapse",
    "sins-posterolateral": "vpbk.fact.sins-posterolateral",
    "histologically-proven": "vpbk.fact.histologically-proven",
    "spinal-metastasis": "vpbk.fact.spinal-metastasis",
    "mri-whole-spine": "vpbk.fact.mri-whole-spine",
    "pain-score": "vpbk.fact.pain-score",
    "mdo-vpbk-benefit": "vpbk.fact.mdo-vpbk-benefit",
    "lesion-type": "vpbk.fact.lesion-type",
    "vpbk-technically-suitable": "vpbk.fact.vpbk-technically-suitable",
    "stepped-care-waived": "vpbk.fact.stepped-care-waived",
    "systemic-therapy": "vpbk.fact.systemic-therapy",
    "analgesic": "vpbk.fact.analgesic",
    "radiotherapy": "vpbk.fact.radiotherapy",
    "life-expectancy": "vpbk.fact.life-expectancy",
    "can-lie-prone": "vpbk.fact.can-lie-prone",
    "puncture-site-infection": "vpbk.fact.puncture-site-infection",
    "karnofsky": "vpbk.fact.karnofsky",
    "instability-beyond-augmentation": "vpbk.fact.instability-beyond-augmentation",
    "vertebral-infection": "vpbk.fact.vertebral-infection",
    "systemic-infection": "vpbk.fact.systemic-infection",
    "coagulopathy": "vpbk.fact.coagulopathy",
    "coagulopathy-correctable": "vpbk.fact.coagulopathy-correctable",
    "bone-cement-allergy": "vpbk.fact.bone-cement-allergy",
    "radicular-pain": "vpbk.fact.radicular-pain",
    "bilsky-grade": "vpbk.fact.bilsky-grade",
    "posterior-column-fracture": "vpbk.fact.posterior-column-fracture",
    "vertebral-level": "vpbk.fact.vertebral-level",
    "vertebral-fracture": "vpbk.fact.vertebral-fracture",
    "magerl-type": "vpbk.fact.magerl-type",
    "fracture-stable": "vpbk.fact.fracture-stable",
    "disabling-back-pain": "vpbk.fact.disabling-back-pain",
    "conservative-treatment-failed": "vpbk.fact.conservative-treatment-failed",
    "pain-at-fracture-level": "vpbk.fact.pain-at-fracture-level",
    "radiating-pain": "vpbk.fact.radiating-pain",
    "fracture-date": "vpbk.fact.fracture-date",
    "pain-resolved": "vpbk.fact.pain-resolved",
    "bone-marrow-oedema": "vpbk.fact.bone-marrow-oedema",
    "poor-cardiopulmonary-condition": "vpbk.fact.poor-cardiopulmonary-condition",
    "retropulsion": "vpbk.fact.retropulsion",
    "inr": "vpbk.fact.inr",
    "aptt": "vpbk.fact.aptt",
    "pt": "vpbk.fact.pt",
    "electrolytes": "vpbk.fact.electrolytes",
    "creatinine": "vpbk.fact.creatinine",
    "anticoagulant": "vpbk.fact.anticoagulant",
    "ecg": "vpbk.fact.ecg",
    "chest-xray": "vpbk.fact.chest-xray",
    "allergies": "vpbk.fact.allergies",
    "pregnancy": "vpbk.fact.pregnancy",
    "posterior-fixation-needed": "vpbk.fact.posterior-fixation-needed",
    "lesion-origin": "vpbk.fact.lesion-origin",
    "fracture-type": "vpbk.fact.fracture-type",
}

#: VPBK-T technique notes, by code
VPBK_TECHNOTE: Mapping[str, str] = {
    "level-outside-bk-range": "vpbk.technote.level-outside-bk-range",
    "level-outside-vp-range": "vpbk.technote.level-outside-vp-range",
    "vertebra-plana": "vpbk.technote.vertebra-plana",
    "vertebra-plana-unknown": "vpbk.technote.vertebra-plana-unknown",
    "cortical-fracture": "vpbk.technote.cortical-fracture",
}

#: VPBK-M-4 stepped-care treatments
VPBK_TREATMENT: Mapping[str, str] = {
    "systemic-therapy": "vpbk.treatment.systemic-therapy",
    "analgesics": "vpbk.treatment.analgesics",
    "radiotherapy": "vpbk.treatment.radiotherapy",
}

#: VPBK-M-4 criteria, by stepped-care treatment
VPBK_CRIT_M4: Mapping[str, str] = {
    "systemic-therapy": "vpbk.crit.m4-systemic-therapy",
    "analgesics": "vpbk.crit.m4-analgesics",
    "radiotherapy": "vpbk.crit.m4-radiotherapy",
}

#: VPBK-O-5 contraindication criteria, by contraindication code
VPBK_CRIT_O5: Mapping[str, str] = {
    "pain-resolved": "vpbk.crit.o5-no-pain-resolved",
    "vertebral-infection": "vpbk.crit.o5-no-vertebral-infection",
    "systemic-infection": "vpbk.crit.o5-no-systemic-infection",
    "puncture-site-infection": "vpbk.crit.o5-no-puncture-site-infection",
    "coagulopathy": "vpbk.crit.o5-no-coagulopathy",
    "no-recent-fracture": "vpbk.crit.o5-no-no-recent-fracture",
    "cannot-lie-prone": "vpbk.crit.o5-no-cannot-lie-prone",
    "procedure-material-allergy": "vpbk.crit.o5-no-procedure-material-allergy",
    "poor-cardiopulmonary-condition": "vpbk.crit.o5-no-poor-cardiopulmonary-condition",
    "retropulsion": "vpbk.crit.o5-no-retropulsion",
    "epidural-extension": "vpbk.crit.o5-no-epidural-extension",
}

#: VPBK-O-1 fracture kinds
VPBK_KIND: Mapping[str, str] = {
    "malignant": "vpbk.kind.malignant",
    "traumatic": "vpbk.kind.traumatic",
    "osteoporotic": "vpbk.kind.osteoporotic",
    "haemangioma": "vpbk.kind.haemangioma",
    "benign-tumour": "vpbk.kind.benign-tumour",
    "unspecified": "vpbk.kind.unspecified",
}

#: cancer types named in VP/BK texts
VPBK_CANCER: Mapping[str, str] = {
    "breast": "vpbk.cancer.breast",
    "prostate": "vpbk.cancer.prostate",
    "lung": "vpbk.cancer.lung",
    "kidney": "vpbk.cancer.kidney",
    "thyroid": "vpbk.cancer.thyroid",
    "multiple-myeloma": "vpbk.cancer.multiple-myeloma",
    "non-hodgkin-lymphoma": "vpbk.cancer.non-hodgkin-lymphoma",
    "germ-cell-tumour": "vpbk.cancer.germ-cell-tumour",
    "other-solid": "vpbk.cancer.other-solid",
    "other-haematological": "vpbk.cancer.other-haematological",
    "secondary": "vpbk.cancer.secondary",
    "unknown-primary": "vpbk.cancer.unknown-primary",
    "unrecognised": "vpbk.cancer.unrecognised",
}

#: a three-valued answer in VP/BK texts
VPBK_TRI: Mapping[str, str] = {
    "yes": "vpbk.tri.yes",
    "no": "vpbk.tri.no",
    "unknown": "vpbk.tri.unknown",
}

#: VPBK-O-6 work-up items
VPBK_WORKUP: Mapping[str, str] = {
    "neurological-deficit": "vpbk.workup.neurological-deficit",
    "vertebral-collapse": "vpbk.workup.vertebral-collapse",
    "pedicles": "vpbk.workup.pedicles",
    "posterior-wall": "vpbk.workup.posterior-wall",
    "canal-stenosis": "vpbk.workup.canal-stenosis",
    "bone-marrow-oedema": "vpbk.workup.bone-marrow-oedema",
    "bone-densitometry": "vpbk.workup.bone-densitometry",
    "labs-ecg": "vpbk.workup.labs-ecg",
}

#: VPBK-M lesion types
VPBK_LESION: Mapping[str, str] = {
    "lytic": "vpbk.lesion.lytic",
    "mixed": "vpbk.lesion.mixed",
    "blastic": "vpbk.lesion.blastic",
}

#: VPBK-M technique preference
VPBK_PREFERENCE: Mapping[str, str] = {
    "preferred": "vpbk.preference.preferred",
    "not-preferred": "vpbk.preference.not-preferred",
    "unknown": "vpbk.preference.unknown",
}

#: pre-procedure check statuses
VPBK_PRE_STATUS: Mapping[str, str] = {
    "ok": "vpbk.pre.status.ok",
    "not-ok": "vpbk.pre.status.not-ok",
    "unknown": "vpbk.pre.status.unknown",
    "attention": "vpbk.pre.status.attention",
    "info": "vpbk.pre.status.info",
}

#: pre-procedure checks
VPBK_PRE_CHECK: Mapping[str, str] = {
    "inr": "vpbk.pre.check.inr",
    "anticoagulants": "vpbk.pre.check.anticoagulants",
    "labs": "vpbk.pre.check.labs",
    "ecg-chest-xray": "vpbk.pre.check.ecg-chest-xray",
    "allergies": "vpbk.pre.check.allergies",
    "pregnancy": "vpbk.pre.check.pregnancy",
    "fasting-antibiotics-aftercare": "vpbk.pre.check.fasting-antibiotics-aftercare",
}

#: pre-procedure labs (absent)
VPBK_PRE_LAB: Mapping[str, str] = {
    "aptt": "vpbk.pre.lab.aptt",
    "pt": "vpbk.pre.lab.pt",
    "electrolytes": "vpbk.pre.lab.electrolytes",
    "creatinine": "vpbk.pre.lab.creatinine",
}

#: pre-procedure lab order suggestions
VPBK_SUGGEST_LAB: Mapping[str, str] = {
    "inr": "vpbk.suggestion.lab.inr",
    "aptt": "vpbk.suggestion.lab.aptt",
    "pt": "vpbk.suggestion.lab.pt",
    "electrolytes": "vpbk.suggestion.lab.electrolytes",
    "creatinine": "vpbk.suggestion.lab.creatinine",
}

#: SINS score bands
SINS_BAND: Mapping[str, str] = {
    "0-6": "sins.band.0-6",
    "7-9": "sins.band.7-9",
    ">=10": "sins.band.>=10",
}

#: SINS stability categories
SINS_CATEGORY: Mapping[str, str] = {
    "stable": "sins.category.stable",
    "potentially-unstable": "sins.category.potentially-unstable",
    "unstable": "sins.category.unstable",
}

#: SINS components, by fact code
SINS_COMPONENT: Mapping[str, str] = {
    "sins-location": "sins.component.sins-location",
    "sins-pain": "sins.component.sins-pain",
    "sins-bone-lesion": "sins.component.sins-bone-lesion",
    "sins-alignment": "sins.component.sins-alignment",
    "sins-collapse": "sins.component.sins-collapse",
    "sins-posterolateral": "sins.component.sins-posterolateral",
}


def pick(table: Mapping[str, str], code: str, **params: object) -> Message:
    """The message of ``code`` in ``table`` (a code outside the table raises)."""
    return msg(table[code], **params)


def check_policy_codes(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Policy values whose codes have no message key here (a site file naming an alarm
    symptom or an MRI priority the cards cannot write): one line each, for start-up."""
    problems: list[str] = []
    dx = values.get("diagnosis", {})
    for name in dx.get("alarm_symptoms", ()):
        if name not in DX_ALARM_CRITERION:
            problems.append(f"diagnosis.alarm_symptoms: {name!r} has no card text")
    for priority in dict(dx.get("mri_priority_by_window_hours", {})).values():
        if priority not in DX_PRIORITY:
            problems.append(f"diagnosis.mri_priority_by_window_hours: {priority!r} is not stat, asap, urgent or routine")
    return problems
