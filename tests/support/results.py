"""A finding's typed result (spine_guideline/results.py) as the card carries it, for tests
that assert the wire contract of a rule: through cds_service/wire.py, the one serialiser."""
from __future__ import annotations

from typing import Any

from cds_service.wire import finding_payload, record_payload
from spine_guideline.findings import Finding


def wire(f: Finding) -> dict[str, Any]:
    """The result's wire fields, without ``rules``."""
    return record_payload(f.result)


def wire_with_rules(f: Finding) -> dict[str, Any]:
    """The result's wire fields with ``rules``, as in the card's ``org.spine-cds.result``
    (before the service adds ``missing``, ``evidence`` and ``rulesVersion``)."""
    return finding_payload(f)
