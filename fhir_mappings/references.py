"""Which referenced resources a request lacks: pure, no I/O.

MP9 (nl-core) and zib2017 send the product as a separate Medication that a
MedicationRequest / MedicationStatement / MedicationAdministration references
(ehr-codes.md, "medication (MP9)"). A server that ignores ``_include`` leaves it
out; the service (``cds_service.prefetch``) then reads the references listed
here from the same FHIR server. The mapper reads a reference that is still
missing as an unknown product, never as "no such medication".
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .fhirutil import as_str, bundle_items, ref_type_id, reference

__all__ = ["MEDICATION_USE_TYPES", "medication_references", "unresolved_medication_references"]

#: the resource types whose product may be a referenced Medication
MEDICATION_USE_TYPES = ("MedicationRequest", "MedicationOrder", "MedicationStatement", "MedicationAdministration")


def medication_references(res: dict[str, Any]) -> list[str]:
    """The Medication references of one medication resource (R4 ``medicationReference``,
    R5 ``medication.reference``), as written."""
    out = []
    ref = reference(res.get("medicationReference"))
    if ref:
        out.append(ref)
    med = res.get("medication")
    if isinstance(med, dict):
        r5 = reference(med.get("reference"))
        if r5:
            out.append(r5)
    return out


def unresolved_medication_references(resources: Iterable[Any] | Any) -> list[str]:
    """Every Medication reference of the request's medication resources that is neither a
    contained resource nor in the request (by ``Medication/id``, an absolute URL ending in
    it, or a Bundle entry's ``fullUrl``): each once, in the order met. A ``#local``
    reference is never listed (a missing contained resource cannot be fetched)."""
    items = list(resources) if isinstance(resources, (list, tuple)) else [resources]
    entries = bundle_items(items)
    present: set[tuple[str, str]] = set()
    urls: set[str] = set()
    for item, full_url in entries:
        if not isinstance(item, dict):
            continue
        if full_url:
            urls.add(full_url)
        rtype, rid = as_str(item.get("resourceType")), as_str(item.get("id"))
        if rtype and rid:
            present.add((rtype, rid))
    out: list[str] = []
    for item, _url in entries:
        if not isinstance(item, dict) or item.get("resourceType") not in MEDICATION_USE_TYPES:
            continue
        for ref in medication_references(item):
            if ref.startswith("#") or ref in urls or ref in out:
                continue
            rtype, rid = ref_type_id(ref)
            if rtype == "Medication" and rid and ("Medication", rid) in present:
                continue
            if rtype not in (None, "Medication"):
                continue  # a reference to something else is not a product to read
            out.append(ref)
    return out

