"""The machine-readable result of every card topic, as typed records.

A finding's ``result`` is one of the records below: plain Python names, enums
for verdicts, pathways, advice and statuses, tuples for lists. The rules layer
never builds the wire format; ``cds_service/wire.py`` turns a record into the
``org.spine-cds.result`` extension of the API contract (camelCase keys, which
keys are left out when empty), one function per record, in the order the
records are listed here:

==========================  ==================================
card topic                  record
==========================  ==================================
``mri-urgency``             :class:`MriUrgencyResult`
``mri-order``               :class:`MriOrderResult`
``corticosteroids``         :class:`CorticosteroidsResult`
``diagnostic-workup``       :class:`WorkupResult`
``treatment-window``        :class:`TreatmentWindowResult`
``mdo-referral``            :class:`MdoResult`
``treatment-modality``      :class:`ModalityResult`
``rt-dose``                 :class:`RtDoseResult`
``survival-estimate``       :class:`SurvivalResult`
``aftercare``               :class:`AftercareResult`
``sins``                    :class:`SinsResult`
``vpbk-eligibility``        :class:`VpbkEligibilityResult`
``vpbk-preprocedure``       :class:`PreprocedureResult`
==========================  ==================================
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .facts import Source

# --- enums of the contract --------------------------------------------------------------------


class Advice(str, enum.Enum):
    """corticosteroids ``advice``: DX-3 start, DX-6 withhold."""

    START = "start"
    WITHHOLD = "withhold"


class FirstChoice(str, enum.Enum):
    """treatment-modality ``firstChoice``: TX-6 / TX-7."""

    RADIOTHERAPY = "radiotherapy"
    SURGERY = "surgery"
    SYSTEMIC_THERAPY = "systemic-therapy"
    UNDECIDED = "undecided"


class Verdict(str, enum.Enum):
    """vpbk-eligibility ``verdict``, in precedence order (guideline.md): first wins."""

    NOT_ELIGIBLE = "not-eligible"
    INSUFFICIENT_DATA = "insufficient-data"
    MDO_REVIEW_NEEDED = "mdo-review-needed"
    ELIGIBLE_RELATIVE = "eligible-relative-contraindications"
    ELIGIBLE = "eligible"


class Pathway(str, enum.Enum):
    """vpbk-eligibility ``pathway``: VPBK-M (source 000) or VPBK-O (sources 001, 004)."""

    METASTATIC = "metastatic"
    OSTEOPOROTIC_BENIGN = "osteoporotic-benign"


class Technique(str, enum.Enum):
    """vpbk-eligibility ``technique`` (VPBK-T)."""

    VP = "VP"
    BK = "BK"


class CheckStatus(str, enum.Enum):
    """vpbk-preprocedure check ``status``."""

    OK = "ok"
    NOT_OK = "not-ok"
    UNKNOWN = "unknown"
    ATTENTION = "attention"
    INFO = "info"


#: survival-estimate ``basis``: what the life expectancy rests on
Basis = Literal["clinician", "model", "none"]


# --- diagnosis ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MriUrgencyResult:
    """DX-2: the window for the whole-spine MRI and the row that set it (None: undecided)."""

    window_hours: int | None
    rule: str | None


@dataclass(frozen=True, slots=True)
class MriOrderResult:
    """DX-2 against a draft MRI order: the hours it asks for and the hours the row requires."""

    ordered_within_hours: float | None
    required_within_hours: int | None
    whole_spine: bool


@dataclass(frozen=True, slots=True)
class CorticosteroidsResult:
    """DX-3 / DX-6: start, withhold or no advice, and the rule behind it."""

    advice: Advice | None
    rule: str | None


@dataclass(frozen=True, slots=True)
class WorkupResult:
    """DX-4 / DX-5: the work-up steps advised and why."""

    steps: tuple[str, ...]
    reasons: tuple[str, ...]


# --- treatment ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreatmentWindowResult:
    """TX-2: the hours within which treatment starts and the row that set them."""

    window_hours: int | None
    rule: str


@dataclass(frozen=True, slots=True)
class MdoResult:
    """TX-3 / TX-5: the disciplines of the MDO."""

    disciplines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModalityResult:
    """TX-6 / TX-7: the first-choice treatment."""

    first_choice: FirstChoice


@dataclass(frozen=True, slots=True)
class RtDoseResult:
    """TX-8: the radiotherapy schedule and the row that chose it."""

    schedule: str
    rule: str


@dataclass(frozen=True, slots=True)
class SurvivalResult:
    """TX-4: the model's score (or range), groups and medians, and what the life expectancy
    rests on. ``groups`` / ``medians``: one each, or the two ends of a range; ``group``: the
    group when it is one (the estimate's own ``group``)."""

    model: str
    score: int | None
    score_range: tuple[int, int] | None
    groups: tuple[str, ...]
    group: str | None
    medians: tuple[float, ...]
    basis: Basis
    life_expectancy_months: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What answered a deadline: ``deadline`` (DX-2, TX-2, TX-3), the resource and its date."""

    deadline: str
    source: Source
    date: str | None


@dataclass(frozen=True, slots=True)
class AftercareResult:
    """TX-9: the deadlines the treatment (and the diagnostics before it) answered."""

    rule: str
    answered_by: tuple[Answer, ...] = ()


# --- SINS and VP/BK --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SinsResult:
    """The SINS of one vertebra: the score when decided, else the totals still possible."""

    vertebra: str
    computed_from_components: bool
    score: int | None
    score_range: tuple[int, int]
    category: str | None
    band: str | None
    bands: tuple[str, ...]
    categories: tuple[str, ...]
    conflict: bool
    recorded: int | None
    component_range: tuple[int, int]
    missing_components: tuple[str, ...]
    location_from_level: bool
    location_conflict: bool
    recorded_location: int | None
    level_location: int | None


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """VPBK-M-5: the survival model's group and medians, when the model decided."""

    model: str
    group: str                  # one group, or the two ends of a range ("B-C")
    medians: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class VpbkEligibilityResult:
    """VPBK-M / VPBK-O / VPBK-T for one vertebra (or the order's level)."""

    verdict: Verdict
    pathway: Pathway
    vertebra: str | None
    technique: tuple[Technique, ...]
    technique_notes: tuple[str, ...]
    absolute: tuple[str, ...]
    relative: tuple[str, ...]
    relative_unknown: tuple[str, ...]
    unmet_conditions: tuple[str, ...]
    missing: tuple[str, ...]
    unmet_criteria: tuple[str, ...]
    absolute_unknown: tuple[str, ...]
    mdo_overrides: tuple[str, ...]
    preferences: Mapping[str, str] = field(default_factory=dict)
    lesion_kinds: tuple[str, ...] = ()
    indication_path: str | None = None
    days_since_fracture: int | None = None
    ordered_technique: Technique | None = None
    order: str | None = None
    stepped_care_missing: tuple[str, ...] = ()
    life_expectancy_basis: str | None = None
    survival_model: ModelEstimate | None = None
    level_from_order: bool = False


@dataclass(frozen=True, slots=True)
class PreprocedureResult:
    """VPBK-P: each check before the procedure and its status."""

    checks: tuple[tuple[str, CheckStatus], ...]


Result = (MriUrgencyResult | MriOrderResult | CorticosteroidsResult | WorkupResult | TreatmentWindowResult
          | MdoResult | ModalityResult | RtDoseResult | SurvivalResult | AftercareResult | SinsResult
          | VpbkEligibilityResult | PreprocedureResult)
