"""AllergyIntolerance -> allergies by substance (data-dictionary.md, allergies)."""
from __future__ import annotations

from spine_guideline.facts import Allergy

from ..context import MappingContext, Resource
from ..fhirutil import as_dict, as_list, as_str, cc_text, status_code


def map_allergy(ctx: MappingContext, res: Resource) -> None:
    if not ctx.asserted(res, status_code(res.get("verificationStatus"))):
        return
    if status_code(res.get("clinicalStatus")) in ("inactive", "resolved"):
        return
    cc = [res.get("code"), res.get("substance")] + [as_dict(r).get("substance") for r in as_list(res.get("reaction"))]
    src = ctx.source(res, ctx.date_text(res.get("recordedDate"), res.get("assertedDate")), cc_text(res.get("code")))
    subs = ctx.kinds("allergy", [c for c in cc if c is not None])
    cats = [c.lower() for c in (as_str(x) for x in as_list(res.get("category"))) if c]
    if "medication" in cats and "no-known-allergy" not in subs:
        subs.append("medication")
    for s in subs or ["other"]:
        ctx.allergies.append(Allergy(s, src))
