"""Random (version 4) UUIDs as text, for card, suggestion and resource ids."""
from __future__ import annotations

import uuid


def new_uuid() -> str:
    return str(uuid.uuid4())
