"""Hook requests for the tests against a running server (tests/test_security_*.py)."""
from __future__ import annotations

import uuid
from typing import Any

from cds_service import samples
from cds_service.services import BY_ID

#: threads of the one gunicorn worker those tests start
THREADS = 4
#: the sample patient whose prefetch a hook request carries
NOW_SAMPLE = "mescc-12h"


def hook_body(service_id: str = "spine-metastases-diagnosis", **context: Any) -> dict[str, Any]:
    service = BY_ID[service_id]
    sample = next(s for s in samples.list_samples() if s.id == NOW_SAMPLE)
    ctx: dict[str, Any] = {"userId": "Practitioner/1", "patientId": sample.patient_id, **context}
    return {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": ctx,
            "prefetch": samples.prefetch(sample.id, service.prefetch_keys)}
