"""Card and suggestion ids are random version-4 UUIDs (cds_service/ids.py)."""
from __future__ import annotations

import uuid

from cds_service.ids import new_uuid


def test_new_uuid_is_a_canonical_random_uuid():
    seen = set()
    for _ in range(2000):
        text = new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lower-case, hyphens at 8-4-4-4-12
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000


def test_every_variant_digit_occurs():
    # the fourth group starts with 8, 9, a or b, each about a quarter of the time
    firsts = {new_uuid()[19] for _ in range(400)}
    assert firsts == set("89ab")
