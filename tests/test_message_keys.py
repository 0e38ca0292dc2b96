"""Every DX/TX message key the rules use is written out in the code (greppable)
and exists in both catalogs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import spine_guideline
from spine_guideline import diagnosis, treatment

PACKAGE = Path(spine_guideline.__file__).parent
CATALOGS = Path(__file__).parent.parent / "cds_service" / "messages"
DX_TX_MODULES = sorted({"common", "context", "keys", "diagnosis", "treatment",
                        *diagnosis.TOPIC_MODULES, *treatment.TOPIC_MODULES})
KEY = re.compile(r"""(?<![\w.])["']((?:dx|tx)\.[A-Za-z0-9_.\-]+)["']""")
BUILT_KEY = re.compile(r"""f["'](?:dx|tx)\.""")


def _catalog(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((CATALOGS / lang).glob("*.json")):
        out.update(json.loads(path.read_text(encoding="utf-8")))
    return out


def _used_keys() -> dict[str, set[str]]:
    return {name: set(KEY.findall((PACKAGE / f"{name}.py").read_text(encoding="utf-8")))
            for name in DX_TX_MODULES}


def test_the_dx_tx_modules_build_no_message_key_from_parts():
    built = {name: BUILT_KEY.findall((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
             for name in DX_TX_MODULES}
    assert not {n: b for n, b in built.items() if b}


def test_the_scan_finds_the_keys():
    used = set().union(*_used_keys().values())
    assert {"dx.mri.summary.window", "tx.window.conclusion.rapid", "dx.steroids.conclusion.start"} <= used
    assert len(used) > 250


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_key_used_exists_in_the_catalog(lang):
    catalog = _catalog(lang)
    missing = {name: sorted(k for k in keys if k not in catalog) for name, keys in _used_keys().items()}
    assert not {n: m for n, m in missing.items() if m}
