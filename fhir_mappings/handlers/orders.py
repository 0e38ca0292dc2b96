"""CDS Hooks ``draftOrders`` -> draft orders: what is being ordered, selected or not, how
urgently, at which levels (data-dictionary.md, orders; order urgency)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from spine_guideline.facts import DraftOrder

from ..context import MappingContext, Resource, safe_id
from ..fhirutil import as_dict, as_list, as_str, ref_type_id, walk_bundle
from ..levels import WHOLE_SPINE_REGIONS, BodySite, body_site
from .medications import MEDICATION_TYPES, med_codes

_PRIORITIES = ("routine", "urgent", "asap", "stat")
_VERSION_HINTS = {"ServiceRequest": "R4", "MedicationRequest": "R4", "MedicationOrder": "DSTU2",
                  "DiagnosticOrder": "DSTU2"}

#: order-select ``selections``: (type, id) keys, and the raw strings (fullUrl references)
Selections = tuple[set[tuple[str, str]] | None, set[str]]


def selection_keys(selections: Iterable[str] | None) -> Selections:
    if selections is None:
        return None, set()
    keys: set[tuple[str, str]] = set()
    raw: set[str] = set()
    for s in as_list(selections) if not isinstance(selections, (list, tuple, set)) else selections:
        if not isinstance(s, str):
            continue
        raw.add(s)
        t, i = ref_type_id(s)
        if t and i:
            keys.add((t, i))
    return keys, raw


def _order_kind(ctx: MappingContext, res: Resource, site: BodySite) -> tuple[str, set[str]]:
    """What is ordered (``other`` when nothing the guideline reads), and the CPT regions
    of an MRI segment order."""
    if res["resourceType"] in MEDICATION_TYPES:
        steroid = any(t.code == "corticosteroid" for cc in med_codes(ctx, res)
                      for t, _c in ctx.lookup_all("medication", cc))
        return ("corticosteroid" if steroid else "other"), set()
    kind = "other"
    regions: set[str] = set()
    for t, _c in ctx.lookup_all("order", res.get("code")):
        if not ctx.depends_ok(t, site):
            continue
        if kind == "other":
            kind = t.code
        if t.code == "mri-segment" and "region" in t.product:
            regions.add(t.product["region"])  # CPT: one code per spine region
    if kind == "mri-segment" and WHOLE_SPINE_REGIONS <= regions:
        kind = "mri-whole-spine"  # one order with the cervical, thoracic and lumbar codes
    return kind, regions


def _priority(ctx: MappingContext, res: Resource) -> str | None:
    """The order's priority, lower-cased; one not understood is warned about and dropped."""
    priority = as_str(res.get("priority"))
    priority = priority.lower() if priority else None
    if priority is not None and priority not in _PRIORITIES:
        ctx.warn(res["resourceType"], safe_id(as_str(res.get("id"))), "draft order priority not understood")
        return None
    return priority


def _version_hint(res: Resource) -> str | None:
    """The FHIR version the order's resource type (and fields) suggest."""
    rtype = res["resourceType"]
    if rtype == "ProcedureRequest":
        return "DSTU2" if any(k in res for k in ("orderedOn", "scheduledDateTime", "scheduledPeriod")) else "STU3"
    return _VERSION_HINTS.get(rtype)


def draft_order(ctx: MappingContext, res: Resource, selections: Selections,
                full_url: str | None) -> tuple[DraftOrder, frozenset[str]]:
    """The draft order, and the spine regions (``C``/``T``/``L``) a region-coded MRI
    segment order covers (see :func:`combine_segment_orders`)."""
    rtype = res["resourceType"]
    rid = as_str(res.get("id"))
    site = body_site(res.get("bodySite"), ctx.term)
    kind, regions = _order_kind(ctx, res, site)
    priority = _priority(ctx, res)
    keys, raw = selections
    selected = keys is None or (rtype, rid or "") in keys or (full_url is not None and full_url in raw)
    order = DraftOrder(kind, rtype, safe_id(rid), selected, priority, _deadline(ctx, res), site.levels,
                       _version_hint(res))
    return order, frozenset(regions) if kind == "mri-segment" else frozenset()


def _deadline(ctx: MappingContext, res: Resource) -> datetime | None:
    for val in (res.get("occurrenceDateTime"), as_dict(res.get("occurrencePeriod")).get("end"),
                res.get("scheduledDateTime"), as_dict(res.get("scheduledPeriod")).get("end")):
        p = ctx.dt(val)
        if p:
            return p[0] + timedelta(days=1) - timedelta(seconds=1) if p[1] else p[0]  # a date: its last second
    return None


def combine_segment_orders(orders: list[DraftOrder], regions: list[frozenset[str]]) -> list[DraftOrder]:
    """CPT has no whole-spine MRI code: selected segment orders whose regions together are
    cervical, thoracic and lumbar are one whole-spine order, each of them read as such."""
    parts = [i for i, o in enumerate(orders) if o.selected and o.kind == "mri-segment" and regions[i]]
    covered: set[str] = set()
    for i in parts:
        covered |= regions[i]
    if len(parts) < 2 or not WHOLE_SPINE_REGIONS <= covered:
        return orders
    return [replace(o, kind="mri-whole-spine") if i in parts else o for i, o in enumerate(orders)]


def map_draft_orders(ctx: MappingContext, draft_orders: Any, selections: Iterable[str] | None) -> list[DraftOrder]:
    """Every draft order once (by type and id); marks them so they are not read as events."""
    keys = selection_keys(selections)
    seen: set[tuple[str, str]] = set()
    orders: list[DraftOrder] = []
    regions: list[frozenset[str]] = []
    for n, (item, full_url) in enumerate(walk_bundle(draft_orders if isinstance(draft_orders, list) else [draft_orders])):
        if item is None:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
            ctx.warnings.append(f"draft order {n}: not a FHIR resource ({type(item).__name__}), skipped")
            continue
        rid = as_str(item.get("id"))
        key = (item["resourceType"], rid or "")
        if rid is not None:
            if key in seen:
                continue
            seen.add(key)
            ctx.draft_keys.add(key)
        order, covered = ctx.guard("draft order", item, draft_order, ctx, item, keys, full_url)
        orders.append(order)
        regions.append(covered)
    return combine_segment_orders(orders, regions)
