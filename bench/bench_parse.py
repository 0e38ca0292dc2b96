"""Benchmark: full fhir.resources (R4B) model validation vs the mapper's plain dict access.

Run: python -m bench.bench_parse [n_resources]

Builds a request of ``n`` (default 1,000) typical resources (Observations,
Conditions, medications, procedures) and times (a) validating every resource
with ``fhir.resources.R4B`` models, (b) the whole ``build_facts`` on plain
dicts. The mapper uses (b): it is already tolerant of odd input (which full
validation would reject as a whole resource), and validation would cost many
times the mapping itself on the request path.
"""
from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"


def make_resources(n: int) -> list[dict]:
    out: list[dict] = []
    for i in range(n):
        k = i % 5
        if k == 0:
            out.append({"resourceType": "Observation", "id": f"o{i}", "status": "final",
                        "subject": {"reference": "Patient/p1"},
                        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                        "effectiveDateTime": f"2026-11-{1 + i % 20:02d}T10:00:00Z", "valueInteger": i % 11})
        elif k == 1:
            out.append({"resourceType": "Observation", "id": f"o{i}", "status": "final",
                        "subject": {"reference": "Patient/p1"},
                        "code": {"coding": [{"system": LOCAL, "code": "sins"}]}, "bodySite": {"text": "L1"},
                        "effectiveDateTime": "2026-11-01", "valueInteger": 9,
                        "component": [{"code": {"coding": [{"system": LOCAL, "code": "sins-pain"}]},
                                       "valueCodeableConcept": {"coding": [{"system": LOCAL, "code": "mechanical"}]}}]})
        elif k == 2:
            out.append({"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/p1"},
                        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                       "code": "active"}]},
                        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C50.9"}]},
                        "onsetDateTime": "2024-01-01"})
        elif k == 3:
            out.append({"resourceType": "MedicationRequest", "id": f"m{i}", "status": "active", "intent": "order",
                        "subject": {"reference": "Patient/p1"},
                        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "H02AB02"}]}})
        else:
            out.append({"resourceType": "Procedure", "id": f"pr{i}", "status": "completed",
                        "subject": {"reference": "Patient/p1"},
                        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "33195004"}]},
                        "bodySite": [{"text": "T10"}], "performedDateTime": "2026-10-01"})
    return out


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 1000
    from fhir.resources.R4B import get_fhir_model_class

    from fhir_mappings import build_facts, load_tables
    from spine_guideline.facts import SearchStatus

    load_tables()
    resources = make_resources(n)
    bundle = [{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}]
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    classes = {t: get_fhir_model_class(t) for t in {r["resourceType"] for r in resources}}

    def validate() -> None:
        for r in resources:
            classes[r["resourceType"]].model_validate(r)

    def mapping() -> None:
        build_facts(bundle, searches={"Observation": SearchStatus.OK}, now=now, patient_id="p1")

    t_val = _time(validate, 3)
    t_map = _time(mapping, 5)
    print(f"{n} resources")
    print(f"  fhir.resources R4B model_validate: {t_val * 1000:8.1f} ms  ({t_val / n * 1e6:6.1f} us/resource)")
    print(f"  build_facts on plain dicts:         {t_map * 1000:8.1f} ms  ({t_map / n * 1e6:6.1f} us/resource)")
    print(f"  validation alone costs {t_val / t_map:.1f}x the whole mapping")


if __name__ == "__main__":
    main()
