"""Random (version 4) UUIDs as text, for card, suggestion and resource ids.

``str(uuid.uuid4())`` builds and validates a UUID object only to print it: 6.4 µs
on the benchmark machine, against 2.5 µs for writing the same 16 random bytes
(``os.urandom``, as uuid4 uses) in RFC 4122 form directly. A request makes ~5.
"""
from __future__ import annotations

import os


def new_uuid() -> str:
    h = os.urandom(16).hex()
    # version nibble 4; variant bits 10xx (first digit of the fourth group: 8, 9, a or b)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
