"""Every message key the rules use (DX, TX, VP/BK, SINS) is written out in the code
(greppable) and exists in both catalogs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import spine_guideline

PACKAGE = Path(spine_guideline.__file__).parent
CATALOGS = Path(__file__).parent.parent / "cds_service" / "messages"
#: every module of the rules layer
RULE_MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
NAMESPACES = "dx|tx|vpbk|sins"
KEY = re.compile(rf"""(?<![\w.])["']((?:{NAMESPACES})\.[A-Za-z0-9_.\-<>=]+)["']""")
#: a key put together at run time: an f-string that starts with a namespace
#: (``f"vpbk.crit.m4-{treatment}"``), or any f-string given to ``msg`` (``msg(f"{prefix}.{code}")``)
BUILT_KEY = re.compile(rf"""f["'](?:{NAMESPACES})\.|\bmsg\(f["']""")


def _catalog(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((CATALOGS / lang).glob("*.json")):
        out.update(json.loads(path.read_text(encoding="utf-8")))
    return out


def _used_keys() -> dict[str, set[str]]:
    return {name: set(KEY.findall((PACKAGE / f"{name}.py").read_text(encoding="utf-8")))
            for name in RULE_MODULES}


def test_the_rules_build_no_message_key_from_parts():
    built = {name: BUILT_KEY.findall((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
             for name in RULE_MODULES}
    assert not {n: b for n, b in built.items() if b}


def test_the_scan_finds_the_keys():
    used = set().union(*_used_keys().values())
    assert {"dx.mri.summary.window", "tx.window.conclusion.rapid", "dx.steroids.conclusion.start",
            "vpbk.level.T12", "vpbk.crit.o5-no-retropulsion", "vpbk.crit.m4-radiotherapy", "sins.band.>=10",
            "vpbk.summary.no-technique"} <= used
    assert len(used) > 600


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_key_used_exists_in_the_catalog(lang):
    catalog = _catalog(lang)
    missing = {name: sorted(k for k in keys if k not in catalog) for name, keys in _used_keys().items()}
    assert not {n: m for n, m in missing.items() if m}
