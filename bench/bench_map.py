"""Benchmark of the mapping step alone (issue 9): ``build_facts`` as the service calls it.

Run: python -m bench.bench_map [--repeat N] [--profile]

Builds the inputs exactly as a request would (``cds_service.prefetch.gather``
on the prefetch of ``bench/run.py``'s bodies) and times ``build_facts`` only:

* the 10,000-resource request of ``bench.run.scaled_request(10000)``:
  microseconds per resource (best of ``--repeat`` runs);
* every sample patient of ``cds_service.samples`` (one request per patient and
  service, as ``bench.run.sample_requests`` builds them): milliseconds per
  request, best of ``--repeat`` runs.

The mapper keeps nothing across requests, so every run reads the request afresh.
``--profile`` prints a cProfile of the 10k request (top 25 by own time).
Absolute figures depend on the machine (and on what else runs on it):
compare before/after on the same one.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fhir_mappings import build_facts, load_tables


def _inputs(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``build_facts`` for a CDS Hooks body (as hooks.py/pipeline.py pass them)."""
    from cds_service.prefetch import gather
    from cds_service.services import SERVICES

    service = next(s for s in SERVICES if s.hook == body["hook"] and
                   all(k in body.get("prefetch", {}) for k in s.prefetch_keys))
    gathered = gather(service, body, client=None, fhir_server_allowed=lambda _u: False, budget_seconds=1)
    context = body["context"]
    return dict(resources=gathered.resources, searches=gathered.searches, now=datetime.now(UTC),
                patient_id=context.get("patientId"), draft_orders=context.get("draftOrders"),
                selections=context.get("selections") if body["hook"] == "order-select" else None)


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_map", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="runs per input (the best counts)")
    ap.add_argument("--size", type=int, default=10000, help="resources in the scaled request")
    ap.add_argument("--profile", action="store_true", help="cProfile the scaled request")
    args = ap.parse_args(argv)

    from bench.run import sample_requests, scaled_request

    load_tables()
    big = _inputs(scaled_request(args.size))
    n = sum(len(b.get("entry", [])) if b.get("resourceType") == "Bundle" else 1 for b in big["resources"])
    t = _best(lambda: build_facts(**big), max(2, args.repeat // 2))
    print(f"scaled request, {n} resources: {t * 1000:8.1f} ms  "
          f"{t / n * 1e6:6.1f} us/resource")

    rows = []
    for sid, items in sample_requests().items():
        for body, label in items:
            kw = _inputs(body)
            rows.append((f"{sid} / {label}", _best(lambda kw=kw: build_facts(**kw), args.repeat)))
    if rows:
        width = max(len(r[0]) for r in rows)
        for label, t in rows:
            print(f"  {label:<{width}}  {t * 1000:6.3f} ms")
        times = [t for _l, t in rows]
        print(f"sample requests: {len(rows)}, "
              f"median {statistics.median(times) * 1000:.3f} ms, "
              f"max {max(times) * 1000:.3f} ms")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        build_facts(**big)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
