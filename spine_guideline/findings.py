"""What a rule returns: a finding, rendered into a card by ``cds_service``.

A finding holds no sentences. Every piece of text is a message key (looked up
in the Dutch and English catalogs of ``cds_service/messages``) with
parameters; the rules never concatenate strings for people to read.
Suggestions are abstract too (``kind`` + parameters): the service layer turns
them into FHIR resources. The machine-readable result is a typed record of
:mod:`.results`.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .facts import Fact
from .results import Result, SinsResult, VpbkEligibilityResult


class Status(str, enum.Enum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, value: bool | None) -> Status:
        if value is True:
            return cls.MET
        if value is False:
            return cls.NOT_MET
        return cls.UNKNOWN


class Indicator(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Message:
    """A catalog key and its parameters. Parameters are plain values (str, int,
    float, lists of str) or other Messages (rendered recursively)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def msg(key: str, **params: Any) -> Message:
    return Message(key, params)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One criterion of a rule: met / not met / unknown, with the data it rests on."""

    key: str                 # catalog key of the criterion's text, e.g. "dx.crit.severe-deficit"
    status: Status
    rule: str | None = None  # the rule ID it belongs to, e.g. "DX-1"
    facts: tuple[Fact, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Missing:
    """A fact that is missing (or stale) and how to record it."""

    code: str                # data-dictionary fact name, e.g. "pain-score"
    why: str = "not-recorded"  # Unknown value: not-recorded, stale, search-failed, ...
    level: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An abstract order suggestion; the service layer renders FHIR for it.

    Kinds and their params (see ``cds_service/suggestions.py``):
    ``create-mri-whole-spine`` {priority, within_hours};
    ``update-mri-order`` {order_id, priority, within_hours, whole_spine};
    ``create-dexamethasone`` {};
    ``create-mdo-referral`` {disciplines};
    ``create-lab-order`` {lab: "inr" | ...};
    ``update-technique`` {order_id, to: "VP"}.
    """

    kind: str
    label: Message
    params: Mapping[str, Any] = field(default_factory=dict)
    is_recommended: bool = True


@dataclass(frozen=True, slots=True)
class Link:
    label: Message
    url: str


@dataclass
class Finding:
    """The outcome of one topic's rules for one patient (or one vertebra / order)."""

    topic: str                       # card topic code (api-contract)
    rules: list[str]                 # IDs of every rule that fired
    indicator: Indicator
    summary: Message
    conclusion: Message
    result: Result                   # typed record (results.py); cds_service/wire.py serialises it
    criteria: list[Criterion] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)      # policy applied, safety netting, caveats
    suggestions: list[Suggestion] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    override_reasons: list[str] = field(default_factory=list)  # codes; catalog "override.<code>"
    key: str | None = None           # distinguishes several findings of one topic (vertebra, order id)

    @property
    def vertebra(self) -> str | None:
        """The vertebra the finding is about (SINS, VP/BK eligibility), else None."""
        return self.result.vertebra if isinstance(self.result, (SinsResult, VpbkEligibilityResult)) else None
