"""The README is what a stranger runs: its examples must work as written."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from cds_service.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start:end if end > 0 else None]


def test_readme_starts_with_the_two_setup_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None and README.index(block.group(0)) < README.index("## ")
    commands = [ln for ln in block.group(1).splitlines() if ln.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("spine-cds demo") and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci, "CI must run the README's test command"


def test_the_evaluate_example_runs_exactly_as_written(capsys) -> None:
    block = re.search(r"```text\n\$ (.*?)\n(.*?)```", _section("Offline evaluation"), re.S)
    assert block is not None
    argv = shlex.split(block.group(1))
    assert argv[0].endswith("spine-cds") and argv[1] == "evaluate"
    assert main(argv[1:]) == 0
    out = [ln.rstrip() for ln in capsys.readouterr().out.splitlines()]
    shown = [ln.rstrip() for ln in block.group(2).splitlines() if ln.strip() and ln.strip() != "..."]
    assert shown, "the example shows no output"
    assert shown == out[:len(shown)]


def test_every_setting_the_code_reads_is_in_the_configuration_table() -> None:
    names: set[str] = set()
    for folder in ("cds_service", "fhir_mappings", "spine_guideline"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"SPINE_CDS_[A-Z][A-Z0-9_]+", path.read_text(encoding="utf-8")))
    table = _section("Configuration")
    documented = set(re.findall(r"`(SPINE_CDS_[A-Z][A-Z0-9_]+)`", table))
    for row in re.findall(r"^\|(.*?)\|", table, re.M):  # "`SPINE_CDS_FHIR_CONNECT_TIMEOUT`, `_READ_TIMEOUT`"
        first = re.search(r"`(SPINE_CDS_[A-Z0-9]+)_", row)
        for short in re.findall(r"`_([A-Z][A-Z0-9_]+)`", row):
            if first:
                documented.add(f"{first.group(1)}_{short}")
    assert not names - documented, sorted(names - documented)


def test_readme_has_no_link_outside_the_repository() -> None:
    assert "../shared" not in README and "/work/" not in README
    for target in re.findall(r"\]\(([^)]+)\)", README):
        assert not re.match(r"[a-z]+://", target) or target.startswith("http://127.0.0.1"), target
        if not re.match(r"[a-z]+://", target):
            assert (ROOT / target.split("#")[0]).exists(), target
