"""Message keys chosen by a code, written out so that every key is greppable.

A rule picks a key from one of these tables by the code it decided on; a code
outside a table is a bug and raises ``KeyError`` (never a silently wrong text).
``tests/test_message_keys.py`` holds every key here and in the topic modules to
both catalogs (``cds_service/messages/{nl,en}``).
"""
from __future__ import annotations

from collections.abc import Mapping

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


def pick(table: Mapping[str, str], code: str, **params: object) -> Message:
    """The message of ``code`` in ``table`` (a code outside the table raises)."""
    return msg(table[code], **params)
