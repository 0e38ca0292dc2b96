"""Paths of the data copied from public projects into ``tests/fixtures/interop/``
(origin, licence and commit: ``tests/fixtures/interop/README.md``)."""
from __future__ import annotations

from pathlib import Path

INTEROP = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
SANDBOX_DIR = INTEROP / "cds-hooks-sandbox"
CRD_REQUESTS = INTEROP / "crd-test-kit-requests"
