"""Observation records -> resolved facts: level binding, newest wins, freshness,
conflicts; lesion type from SINS; histological proof of each cancer
(data-dictionary.md, General reading rules)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from spine_guideline.facts import Cancer, Fact, PatientFacts, Unknown

from .context import MappingContext, ObsRecord

_EPOCH = datetime.min.replace(tzinfo=UTC)


def _latest(recs: list[ObsRecord]) -> list[ObsRecord]:
    """The records of the latest moment (all of them when none is dated)."""
    dated = [r for r in recs if r.when is not None]
    if not dated:
        return recs
    top_when = max(r.when or _EPOCH for r in dated)
    return [r for r in dated if r.when == top_when]


def _first_known(top: list[ObsRecord]) -> ObsRecord:
    """The first record read without an unknown-why, else the first."""
    return next((r for r in top if r.unknown is None), top[0])


def resolve(ctx: MappingContext, facts: PatientFacts) -> None:
    """Fill ``facts.observations`` from the context's records."""
    candidates = facts.candidate_levels()
    groups: dict[tuple[str, str | None], list[ObsRecord]] = {}
    ambiguous: dict[str, list[ObsRecord]] = {}
    for r in ctx.obs:
        d = ctx.term.obs_defs[r.name.split(".", 1)[0]]
        if r.levels:
            for level in r.levels:
                groups.setdefault((r.name, level), []).append(r)
            if not d.level_bound:
                groups.setdefault((r.name, None), []).append(r)
        elif d.level_bound:
            # a spine region named without a level narrows the candidates
            in_region = [c for c in candidates if not r.regions or c[0] in r.regions]
            if len(in_region) == 1:
                r.note = r.note or ("level taken from the only candidate level" if len(candidates) == 1
                                    else "level taken from the only candidate level in the recorded region")
                groups.setdefault((r.name, in_region[0]), []).append(r)
            else:
                ambiguous.setdefault(r.name, []).append(r)
        else:
            groups.setdefault((r.name, None), []).append(r)
    for (name, lvl), recs in groups.items():
        facts.observations[(name, lvl)] = _newest(ctx, name, lvl, recs)
    for name, recs in ambiguous.items():
        facts.observations[(name, None)] = Fact(
            name, None, tuple(r.source for r in recs), None, Unknown.LEVEL_AMBIGUOUS,
            note=f"recorded without bodySite; candidate levels: {len(candidates)}")
    _derive_lesion_type(ctx, facts)


def _newest(ctx: MappingContext, name: str, lvl: str | None, recs: list[ObsRecord]) -> Fact:
    top = _latest(recs)
    limit = ctx.freshness_limit(name)
    first = top[0]
    srcs = tuple(dict.fromkeys(r.source for r in top))
    if len(top) > 1 and len({repr(r.value) for r in top if r.unknown is None}) > 1:
        return Fact(name, None, srcs, lvl, Unknown.CONFLICT, note="records of the same moment disagree")
    if limit is not None:
        if first.when is None:
            return Fact(name, None, srcs, lvl, Unknown.STALE, _stale_attrs(first.attrs),
                        note="no date: freshness cannot be shown")
        if first.date_only:
            stale = (ctx.now.astimezone(first.when.tzinfo).date() - first.when.date()).days > limit
        else:  # whole days, elapsed time rounded down: "within 7 days" includes day 7
            stale = (ctx.now - first.when).days > limit
        if stale:
            return Fact(name, None, srcs, lvl, Unknown.STALE, _stale_attrs(first.attrs),
                        note=f"older than {limit} days")
    chosen = _first_known(top)
    note = chosen.note
    if lvl is None and chosen.levels:
        note = note or "recorded at " + ", ".join(chosen.levels)
    attrs = {k: Fact(f.name, f.value, f.sources, lvl, f.unknown) for k, f in chosen.attrs.items()}
    return Fact(name, chosen.value, srcs, lvl, chosen.unknown, attrs, note=note)


def _stale_attrs(attrs: Mapping[str, Fact]) -> dict[str, Fact]:
    return {k: Fact(f.name, None, f.sources, f.level, Unknown.STALE) for k, f in attrs.items()}


def _derive_lesion_type(ctx: MappingContext, facts: PatientFacts) -> None:
    by_points = ctx.term.lesion_by_points
    for (name, lvl), sins in list(facts.observations.items()):
        if name != "sins":
            continue
        comp = sins.attrs.get("sins-bone-lesion")
        if comp is None or comp.value is None or comp.value not in by_points:
            continue
        derived = by_points[comp.value]
        current = facts.observations.get(("lesion-type", lvl))
        if current is None or current.value is None:
            if current is not None and current.unknown is Unknown.CONFLICT:
                continue
            facts.observations[("lesion-type", lvl)] = Fact(
                "lesion-type", derived, comp.sources, lvl, note="from the SINS bone-lesion component")
        elif current.value != derived:
            facts.observations[("lesion-type", lvl)] = Fact(
                "lesion-type", None, tuple(dict.fromkeys(current.sources + comp.sources)), lvl,
                Unknown.CONFLICT, note="lesion-type and the SINS bone-lesion component disagree")
        else:
            facts.observations[("lesion-type", lvl)] = Fact(
                "lesion-type", current.value, tuple(dict.fromkeys(current.sources + comp.sources)), lvl,
                note=current.note)


def finish_cancers(ctx: MappingContext, facts: PatientFacts) -> None:
    """Each cancer with its histological proof: its own evidence, else an Observation whose
    focus is that Condition, else the patient-wide ``histologically-proven`` fact."""
    if not ctx.cancer_drafts:
        return
    general = facts.observations.get(("histologically-proven", None))
    focused: dict[str, ObsRecord] = {}
    for r in ctx.obs:
        if r.name == "histologically-proven" and r.focus[0] == "Condition" and r.focus[1] and r.unknown is None:
            old = focused.get(r.focus[1])
            if old is None or (r.when or _EPOCH) > (old.when or _EPOCH):
                focused[r.focus[1]] = r
    for d in ctx.cancer_drafts:
        proof = d.proof
        if proof is None:
            rec = focused.get(d.condition_id or "")
            if rec is not None:
                proof = Fact("histologically-proven", rec.value, (rec.source,), note="Observation with focus")
            elif general is not None and general.sources:
                proof = Fact("histologically-proven", general.value, general.sources, None, general.unknown,
                             note=general.note)
            else:
                proof = Fact("histologically-proven", None, (), None, Unknown.NOT_RECORDED,
                             note="confirmed diagnosis alone is not histological proof")
        facts.cancers.append(Cancer(d.cancer_type, d.category, d.source, d.onset, d.onset_field,
                                    d.active, d.suspected, proof, d.code))
