"""The layout of the test suite (issue 14): builders, helpers and shared fixtures live in
tests/support/ (or tests/conftest.py); no module of tests/ imports a test module."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """The test modules (``test_*``) that ``source`` imports, however spelled."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level and node.module is None:  # from . import test_x
                found += [a.name for a in node.names if a.name.startswith("test_")]
            elif any(p.startswith("test_") for p in parts):
                found.append(node.module or "")
            elif parts == ["tests"]:  # from tests import test_x
                found += [a.name for a in node.names if a.name.startswith("test_")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(p.startswith("test_") for p in a.name.split("."))]
    return found


@pytest.mark.parametrize("source,expected", [
    ("from .test_fhir_client import RawServer", ["test_fhir_client"]),
    ("from tests.test_browser import browser", ["tests.test_browser"]),
    ("from . import test_capture_app", ["test_capture_app"]),
    ("from tests import test_capture_app as app", ["test_capture_app"]),
    ("import tests.test_treatment", ["tests.test_treatment"]),
    ("def f():\n    from .test_augmentation_builders import base\n", ["test_augmentation_builders"]),
    ("from .support.augmentation import base\nfrom tests.support.fhir_server import fhir_server\n"
     "from tests.conftest import make_app\nimport pytest", []),
])
def test_the_check_recognises_every_spelling_of_a_test_module_import(source, expected):
    assert imported_test_modules(source) == expected


def test_no_module_of_the_suite_imports_a_test_module():
    modules = sorted(TESTS.rglob("*.py"))
    assert len([m for m in modules if m.name.startswith("test_")]) > 50  # the walk sees the suite
    offenders = {str(m.relative_to(TESTS)): found for m in modules
                 if (found := imported_test_modules(m.read_text(encoding="utf-8")))}
    assert not offenders, f"move what is shared into tests/support/ (or tests/conftest.py): {offenders}"
