"""Every card the bundled sample patients give, through the same path as an HTTP
request (prefetch gathered, then ``pipeline.run`` for every service of each hook
the sample lists), in full: for tests that look at cards as a whole."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from cds_service import pipeline, samples
from cds_service.i18n import load_catalogs
from cds_service.prefetch import gather
from cds_service.services import SERVICES
from spine_guideline.policy import load_policy


def sample_cards(now: datetime, langs: tuple[str, ...] = ("nl", "en"),
                 base_url: str = "http://127.0.0.1:8080") -> list[dict[str, Any]]:
    """[{"sample", "hook", "service", "lang", **card}] for every sample, hook, service and language."""
    policy, catalogs = load_policy(), load_catalogs()
    out: list[dict[str, Any]] = []
    for sample in samples.list_samples(now=now):
        for hook in sample.hooks:
            for service in (s for s in SERVICES if s.hook == hook):
                body = {"hook": hook, "context": {"patientId": sample.patient_id},
                        "prefetch": samples.prefetch(sample.id, service.prefetch_keys, now=now)}
                gathered = gather(service, body, client=None, fhir_server_allowed=lambda url: False,
                                  budget_seconds=1.0)
                drafts = samples.draft_orders_bundle(sample) if hook != "patient-view" else None
                for lang in langs:
                    outcome = pipeline.run(service, resources=gathered.resources, searches=gathered.searches,
                                           now=now, patient_id=sample.patient_id, lang=lang, policy=policy,
                                           catalogs=catalogs, draft_orders=drafts, failed_types=gathered.failed,
                                           base_url=base_url)
                    out.extend({"sample": sample.id, "hook": hook, "service": service.id, "lang": lang, **card}
                               for card in outcome.cards)
    return out


def case_cards(langs: tuple[str, ...] = ("nl", "en"),
               base_url: str = "http://127.0.0.1:8080") -> list[dict[str, Any]]:
    """[{"sample": "file:case id", "hook", "service", "lang", **card}] for every table-driven case
    (tests/cases), through ``pipeline.run`` for every service of the case's hook."""
    from spine_guideline.facts import SearchStatus

    from .cases import SEARCHED_TYPES, load_cases, parse_now

    policy, catalogs = load_policy(), load_catalogs()
    out: list[dict[str, Any]] = []
    for cid, case in load_cases():
        hook = case.get("hook", "patient-view")
        searches = {t: SearchStatus.OK for t in SEARCHED_TYPES}
        searches.update({k: SearchStatus(v) for k, v in case.get("searches", {}).items()})
        for service in (s for s in SERVICES if s.hook == hook):
            for lang in langs:
                outcome = pipeline.run(service, resources=case["resources"], searches=searches, now=parse_now(case),
                                       patient_id=case.get("patientId", "p1"), lang=lang, policy=policy,
                                       catalogs=catalogs, draft_orders=case.get("draftOrders"),
                                       selections=case.get("selections"), base_url=base_url)
                out.extend({"sample": cid, "hook": hook, "service": service.id, "lang": lang, **card}
                           for card in outcome.cards)
    return out
