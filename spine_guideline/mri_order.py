"""The ``mri-order`` card: does a spine MRI draft order meet DX-2?"""
from __future__ import annotations

from datetime import datetime

from .common import as_datetime, max_indicator, order_key
from .context import Evaluation
from .facts import DraftOrder, Fact, Source
from .findings import Criterion, Finding, Indicator, Message, Missing, Status, Suggestion, msg
from .keys import DX_PRIORITY, pick
from .mri_urgency import dx_indicator
from .mri_window import duration, mri_priority, neurological_picture
from .policy import Policy

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


def evaluate_mri_order(ctx: Evaluation, order: DraftOrder) -> Finding:
    facts, policy, susp = ctx.facts, ctx.policy, ctx.suspicion
    whole = order.kind == "mri-whole-spine"
    ordered = ordered_within_hours(order, facts.now, policy)
    picture = neurological_picture(facts, policy, susp.back_pain) if susp.value is True else None
    required = picture.window(policy) if picture else None
    # a deadline at or before now cannot be met: never "in time", whatever the window
    passed = order.deadline is not None and ordered is not None and ordered <= 0
    order_fact = Fact("mri-order", True, (Source(order.resource_type, order.resource_id),))
    criteria = [Criterion("dx.crit.order-whole-spine", Status.of(whole), "DX-2", (order_fact,))]
    notes: list[Message] = [_source_note(order, ordered, passed)]
    missing: list[Missing] = []
    suggestions: list[Suggestion] = []
    rules: list[str] = ["DX-1"]

    if picture is None:
        # no DX-1 suspicion: no window to check against
        if susp.value is None:
            notes.append(msg("dx.note.order-no-suspicion-unknown"))
            missing.extend(susp.missing)
        else:
            notes.append(msg("dx.note.order-no-suspicion"))
        indicator = Indicator.INFO
        summary = msg("dx.order.summary.no-window")
        conclusion = msg("dx.order.conclusion.no-window")
        if not whole:
            notes.append(msg("dx.note.segment-not-enough"))
    elif picture.row is None or required is None:
        rules.append("DX-2")
        missing.extend(picture.missing)
        indicator = max_indicator(Indicator.WARNING, dx_indicator(ctx, picture.upper_window(policy)))
        summary = msg("dx.order.summary.undecided")
        conclusion = msg("dx.order.conclusion.undecided", upper=duration(picture.upper_window(policy)))
        notes.extend(picture.notes)
        criteria += picture.criteria
    else:
        rules.append(picture.row)
        criteria += picture.criteria
        notes.extend(picture.notes)
        missing.extend(picture.missing)
        in_time = None if ordered is None else (not passed and ordered <= required)
        criteria.append(Criterion("dx.crit.order-in-time.passed" if passed else "dx.crit.order-in-time",
                                  Status.of(in_time), picture.row,
                                  (order_fact,), {"ordered": duration(ordered), "required": duration(required)}))
        if whole and in_time:
            indicator = Indicator.INFO
            summary = msg("dx.order.summary.ok", duration=duration(required), rule=picture.row)
            conclusion = msg("dx.order.conclusion.ok", duration=duration(required), rule=picture.row)
        else:
            indicator = max_indicator(dx_indicator(ctx, required), Indicator.WARNING)
            problems = []
            if not whole:
                problems.append(msg("dx.order.problem.segment"))
            if passed:
                problems.append(msg("dx.order.problem.deadline-passed"))
            elif in_time is False:
                problems.append(msg("dx.order.problem.late", ordered=duration(ordered)))
            elif in_time is None:
                problems.append(msg("dx.order.problem.no-deadline"))
            summary = msg("dx.order.summary.fix", duration=duration(required), rule=picture.row)
            conclusion = msg("dx.order.conclusion.fix", duration=duration(required),
                             rule=picture.row, problems=problems)
            priority = mri_priority(required, policy)
            if order.resource_id:
                suggestions.append(Suggestion(
                    "update-mri-order",
                    msg("dx.suggest.update-mri", duration=duration(required), priority=pick(DX_PRIORITY, priority)),
                    {"order_id": order.resource_id, "priority": priority,
                     "within_hours": required, "whole_spine": True}))
            else:
                notes.append(msg("dx.note.order-without-id"))
    notes.append(msg("dx.note.safety-netting"))
    rules.append("DX-2f")
    return Finding(
        topic="mri-order", rules=rules, indicator=indicator, summary=summary, conclusion=conclusion,
        result={"orderedWithinHours": ordered, "requiredWithinHours": required, "wholeSpine": whole},
        criteria=criteria, missing=missing, notes=notes, suggestions=suggestions,
        override_reasons=list(OVERRIDE_ORDER) if indicator != Indicator.INFO else [], key=order_key(order))
