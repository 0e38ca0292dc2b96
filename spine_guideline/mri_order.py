"""The ``mri-order`` card: does a spine MRI draft order meet DX-2?"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .common import as_datetime, max_indicator, order_key
from .context import Evaluation
from .facts import DraftOrder, Fact, Source
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import DX_PRIORITY, pick
from .mri_urgency import dx_indicator
from .mri_window import Picture, duration, mri_priority, neurological_picture
from .policy import Policy
from .results import MriOrderResult

RULES = ("DX-1", "DX-2", "DX-2f")
MRI_ORDER_KINDS = ("mri-whole-spine", "mri-segment")
OVERRIDE_ORDER = ("clinical-judgement", "already-arranged")


def ordered_within_hours(order: DraftOrder, now: datetime, policy: Policy) -> float | int | None:
    if order.deadline is not None:
        deadline = as_datetime(order.deadline, now)
        assert deadline is not None  # a datetime always reads
        hours = (deadline - now).total_seconds() / 3600
        return int(hours) if float(hours).is_integer() else round(hours, 1)
    table = policy.get("diagnosis", "order_priority_hours")
    if order.priority in table:
        return table[order.priority]  # type: ignore[no-any-return]
    return None


def _source_note(order: DraftOrder, ordered: float | int | None, passed: bool) -> Message:
    if passed and order.deadline is not None:
        return msg("dx.note.order-deadline-passed", deadline=order.deadline.isoformat()[:16])
    params = {"priority": order.priority or "?", "duration": duration(ordered)}
    if order.deadline is not None:
        return msg("dx.note.order-deadline", **params)
    if ordered is not None:
        return msg("dx.note.order-priority", **params)
    return msg("dx.note.order-no-deadline", **params)


@dataclass
class _Order:
    """One MRI draft order read against DX-2, and what the card collects about it."""

    order: DraftOrder
    whole: bool                        # a whole-spine MRI
    ordered: float | int | None        # ordered within (hours)
    passed: bool                       # its deadline is at or before now
    fact: Fact
    criteria: list[Criterion] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


def _no_window(ctx: Evaluation, o: _Order) -> tuple[Indicator, Message, Message]:
    """No DX-1 suspicion: no window to check against."""
    susp = ctx.suspicion
    if susp.value is None:
        o.notes.append(msg("dx.note.order-no-suspicion-unknown"))
        o.missing.extend(susp.missing)
    else:
        o.notes.append(msg("dx.note.order-no-suspicion"))
    if not o.whole:
        o.notes.append(msg("dx.note.segment-not-enough"))
    return Indicator.INFO, msg("dx.order.summary.no-window"), msg("dx.order.conclusion.no-window")


def _row_undecided(ctx: Evaluation, o: _Order, picture: Picture) -> tuple[Indicator, Message, Message]:
    """Suspicion, but the DX-2 row is undecided: at least as strict as the strictest possible row."""
    upper = picture.upper_window(ctx.policy)
    o.missing.extend(picture.missing)
    o.notes.extend(picture.notes)
    o.criteria += picture.criteria
    return (max_indicator(Indicator.WARNING, dx_indicator(ctx, upper)), msg("dx.order.summary.undecided"),
            msg("dx.order.conclusion.undecided", upper=duration(upper)))


def _problems(o: _Order, in_time: bool | None) -> list[Message]:
    problems = []
    if not o.whole:
        problems.append(msg("dx.order.problem.segment"))
    if o.passed:
        problems.append(msg("dx.order.problem.deadline-passed"))
    elif in_time is False:
        problems.append(msg("dx.order.problem.late", ordered=duration(o.ordered)))
    elif in_time is None:
        problems.append(msg("dx.order.problem.no-deadline"))
    return problems


def _fix(ctx: Evaluation, o: _Order, row: str, required: int, in_time: bool | None) -> tuple[Indicator, Message, Message]:
    """The order does not meet the row's deadline (or is a segment MRI): suggest updating it."""
    summary = msg("dx.order.summary.fix", duration=duration(required), rule=row)
    conclusion = msg("dx.order.conclusion.fix", duration=duration(required), rule=row, problems=_problems(o, in_time))
    priority = mri_priority(required, ctx.policy)
    if o.order.resource_id:
        o.suggestions.append(Suggestion(
            "update-mri-order",
            msg("dx.suggest.update-mri", duration=duration(required), priority=pick(DX_PRIORITY, priority)),
            {"order_id": o.order.resource_id, "priority": priority,
             "within_hours": required, "whole_spine": True}))
    else:
        o.notes.append(msg("dx.note.order-without-id"))
    return max_indicator(dx_indicator(ctx, required), Indicator.WARNING), summary, conclusion


def _against_row(ctx: Evaluation, o: _Order, picture: Picture, row: str, required: int
                 ) -> tuple[Indicator, Message, Message]:
    """The DX-2 row is decided: is the order a whole-spine MRI within its deadline?"""
    o.criteria += picture.criteria
    o.notes.extend(picture.notes)
    o.missing.extend(picture.missing)
    # a deadline at or before now cannot be met: never "in time", whatever the window
    in_time = None if o.ordered is None else (not o.passed and o.ordered <= required)
    o.criteria.append(Criterion("dx.crit.order-in-time.passed" if o.passed else "dx.crit.order-in-time",
                                Status.of(in_time), row,
                                (o.fact,), {"ordered": duration(o.ordered), "required": duration(required)}))
    if o.whole and in_time:
        return (Indicator.INFO, msg("dx.order.summary.ok", duration=duration(required), rule=row),
                msg("dx.order.conclusion.ok", duration=duration(required), rule=row))
    return _fix(ctx, o, row, required, in_time)


def evaluate_mri_order(ctx: Evaluation, order: DraftOrder) -> Finding:
    facts, policy, susp = ctx.facts, ctx.policy, ctx.suspicion
    ordered = ordered_within_hours(order, facts.now, policy)
    picture = neurological_picture(facts, policy, susp.back_pain) if susp.value is True else None
    required = picture.window(policy) if picture else None
    passed = order.deadline is not None and ordered is not None and ordered <= 0
    o = _Order(order, order.kind == "mri-whole-spine", ordered, passed,
               Fact("mri-order", True, (Source(order.resource_type, order.resource_id),)))
    o.criteria.append(Criterion("dx.crit.order-whole-spine", Status.of(o.whole), "DX-2", (o.fact,)))
    o.notes.append(_source_note(order, ordered, passed))
    rules: list[str] = ["DX-1"]
    if picture is None:
        indicator, summary, conclusion = _no_window(ctx, o)
    elif picture.row is None or required is None:
        rules.append("DX-2")
        indicator, summary, conclusion = _row_undecided(ctx, o, picture)
    else:
        rules.append(picture.row)
        indicator, summary, conclusion = _against_row(ctx, o, picture, picture.row, required)
    o.notes.append(msg("dx.note.safety-netting"))
    rules.append("DX-2f")
    return Finding(
        topic="mri-order", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result=MriOrderResult(ordered_within_hours=ordered, required_within_hours=required, whole_spine=o.whole),
        criteria=o.criteria, missing=o.missing, notes=o.notes, suggestions=o.suggestions,
        override_reasons=list(OVERRIDE_ORDER) if indicator != Indicator.INFO else [], key=order_key(order))
