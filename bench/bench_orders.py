"""Draft-order amplification (issue 19, item 4): time and memory of one order-select call
with many balloon-kyphoplasty draft orders, all selected, in process (Flask test client).

    python -m bench.bench_orders            # at the limits (SPINE_CDS_MAX_DRAFT_ORDERS/_SELECTIONS)
    python -m bench.bench_orders 8000       # the attack: refused before any work

Prints status, cards, response bytes, wall time and peak Python allocation (tracemalloc).
Not a timed test: tests/test_security_amplification.py asserts the refusals and the cards."""
from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
import tracemalloc
import uuid
from typing import Any

from cds_service import create_app, samples
from cds_service.config import DEFAULTS
from cds_service.services import BY_ID

SAMPLE = "bk-order-t3"


def order_select_body(n_orders: int, n_selections: int | None = None) -> dict[str, Any]:
    """An order-select call of the BK sample with ``n_orders`` copies of its draft order,
    the first ``n_selections`` (default: all) selected."""
    service = BY_ID["spine-order-select"]
    sample = next(s for s in samples.list_samples() if s.id == SAMPLE)
    template = sample.draft_orders[0]
    orders = []
    for i in range(n_orders):
        order = copy.deepcopy(template)
        order["id"] = f"bk-{i}"
        orders.append({"resource": order})
    n_sel = n_orders if n_selections is None else n_selections
    return {"hook": service.hook, "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": sample.patient_id,
                        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": orders},
                        "selections": [f"ServiceRequest/bk-{i}" for i in range(n_sel)]},
            "prefetch": samples.prefetch(sample.id, service.prefetch_keys)}


def measure(app: Any, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    client = app.test_client()
    client.post("/cds-services/spine-order-select", data=json.dumps(order_select_body(1)),
                content_type="application/json")  # warm up (imports, compiled schemas)
    tracemalloc.start()
    t0 = time.perf_counter()
    resp = client.post("/cds-services/spine-order-select", data=raw, content_type="application/json")
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = resp.get_json()
    return {"requestBytes": len(raw), "status": resp.status_code, "cards": len(out.get("cards", [])),
            "responseBytes": len(resp.data), "seconds": round(elapsed, 3), "peakMB": round(peak / 1e6, 1)}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else DEFAULTS["MAX_DRAFT_ORDERS"]
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"AUTH": "off", "DATA_DIR": tmp, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3"})
        body = order_select_body(n, min(n, DEFAULTS["MAX_SELECTIONS"]) if not argv else None)
        print(json.dumps({"draftOrders": n, **measure(app, body)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
