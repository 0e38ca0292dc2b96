"""One evaluation of one patient's facts: the facts, the policy and the values
several topics derive from them, each computed at most once.

The context is built for one evaluation and dropped afterwards; the facts are
only read. Derived values are computed on first use (a topic that is not
reached costs nothing) and shared read-only by the topics after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import survival
from .answered import mdo_answer
from .common import MriState
from .facts import PatientFacts
from .mescc import Deficit, Radiological, neurological_deficit, radiological_mescc
from .mri_window import MriStatus, Picture, findings_to_answer, mri_status, neurological_picture
from .policy import Policy
from .primary import PrimaryStatus, primary_status
from .results import Answer
from .surgery import Check, surgery_checks, tx5_checks
from .suspicion import Suspicion, suspicion
from .treatment_window import WindowDecision, treatment_window_answer, window_variables


@dataclass(frozen=True)
class Evaluation:
    facts: PatientFacts
    policy: Policy

    def dx(self, key: str) -> Any:
        """A value of the diagnosis policy section."""
        return self.policy.get("diagnosis", key)

    def tx(self, key: str) -> Any:
        """A value of the treatment policy section."""
        return self.policy.get("treatment", key)

    @cached_property
    def suspicion(self) -> Suspicion:
        """DX-1."""
        return suspicion(self.facts, self.policy)

    @cached_property
    def primary(self) -> PrimaryStatus:
        """DX-4 / DX-5."""
        return primary_status(self.facts, self.policy)

    @cached_property
    def radiological(self) -> Radiological:
        return radiological_mescc(self.facts, self.policy)

    @cached_property
    def deficit(self) -> Deficit:
        return neurological_deficit(self.facts)

    @cached_property
    def tx5(self) -> tuple[Check, ...]:
        return tx5_checks(self.facts, self.policy, self.deficit)

    @cached_property
    def surgery(self) -> tuple[Check, ...]:
        """TX-7 surgery conditions."""
        return surgery_checks(self.facts)

    @cached_property
    def survival(self) -> survival.SurvivalEstimate:
        """TX-4: the van der Linden estimate."""
        return survival.van_der_linden(self.facts, self.policy)

    @cached_property
    def treatment_window(self) -> WindowDecision:
        """TX-2: the row over the recorded facts."""
        return window_variables(self)

    @cached_property
    def treatment_window_answer(self) -> Answer | None:
        """TX-2 answered by treatment after its clock started."""
        return treatment_window_answer(self)

    @cached_property
    def mdo_answer(self) -> Answer | None:
        """TX-3 answered by a held MDO after the diagnosis."""
        return mdo_answer(self.facts, self.radiological)

    @cached_property
    def picture(self) -> Picture:
        """DX-2: the neurological picture that chooses the MRI row."""
        return neurological_picture(self.facts, self.policy, self.suspicion.back_pain)

    @cached_property
    def mri(self) -> MriStatus:
        """DX-2: a whole-spine MRI against the findings it must postdate."""
        return mri_status(self.facts, self.policy, findings_to_answer(self.facts, self.picture))

    @cached_property
    def mri_answer(self) -> Answer | None:
        """DX-2 answered by a whole-spine MRI done after the findings behind the row."""
        event = self.mri.event
        if self.suspicion.value is not True or self.mri.state is not MriState.DONE or event is None:
            return None
        return Answer("DX-2", event.source, event.date)
