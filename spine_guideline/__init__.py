"""The guideline logic of spine-cds: facts in, findings out.

Pure Python: no Flask, no FHIR, no I/O while evaluating. Modules:

* :mod:`.facts`: the three-valued, provenance-carrying domain model;
* :mod:`.findings`: what rules return (criteria, missing data, suggestions);
* :mod:`.policy`: thresholds and policy choices from ``data/*.json``;
* :mod:`.diagnosis` (DX-*), :mod:`.treatment` (TX-*), :mod:`.augmentation`
  (VPBK-*), with :mod:`.sins` and :mod:`.survival` for the scores. Diagnosis
  and treatment are split into one module per card topic (listed in their
  ``TOPIC_MODULES``; each names its rule IDs in ``RULES``), over
  :mod:`.common` (three-valued reads, dates, missing data), :mod:`.keys`
  (message keys chosen by a code) and :mod:`.context` (one evaluation: the
  facts, the policy and the values derived from them, each computed once).

Every guideline module exposes::

    evaluate(facts: PatientFacts, policy: Policy) -> list[Finding]         # patient-view topics
    evaluate_orders(facts: PatientFacts, policy: Policy) -> list[Finding]  # draft-order topics
"""

GUIDELINE_NAME = "Richtlijn Wervelmetastasen (NVvN/IKNL) + Protocol VP/BK bij wervelmetastasen"
RULES_VERSION = "2026.12"
GUIDELINE_VERSION = f"spine-cds rules {RULES_VERSION}"
