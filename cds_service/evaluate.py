"""``spine-cds evaluate``: the guideline offline, on FHIR files, without a server.

Input: FHIR R4 Bundle JSON files (any type: transaction, collection,
searchset, ...; a bare resource also works), NDJSON files (FHIR Bulk Data
export: one resource per line, many patients, often one file per resource
type) and directories of them (``*.json``, ``*.ndjson``, recursively, sorted).
Resources are grouped per patient over all inputs: a Patient by its id, every
other resource by its ``subject``/``patient`` reference (``Patient/x``, an
absolute URL, or a Bundle's ``urn:uuid`` fullUrl of a Patient). In a Bundle
with exactly one Patient, resources without a patient reference belong to it.

Each patient runs through ``pipeline.run`` exactly as an HTTP request would,
for every service of the chosen hook. Every search counts as succeeded: the
file is the record, so a Condition that is not in the file is "none recorded".
For the order hooks the patient's draft ServiceRequests / MedicationRequests
(``status: draft``) are the draft orders.

Exit codes: 0 when the input could be used (bad NDJSON lines and Bundle
entries are reported on stderr and skipped); 2 when a named path is missing
or a file cannot be read as JSON/FHIR at all, or when nothing could be read.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from fhir_mappings.fhirutil import ref_type_id
from spine_guideline.facts import SearchStatus

from . import pipeline
from .config import read_settings
from .runtime import Runtime, build_runtime
from .services import SERVICES, TEMPLATES, template_resource_type

#: more patients than this: progress bar (on a TTY) and the summary
MANY = 20
HOOKS = ("patient-view", "order-select", "order-sign")
DRAFT_TYPES = ("ServiceRequest", "MedicationRequest", "ProcedureRequest", "MedicationOrder")
#: every type the mapper reads; all count as searched successfully
SEARCHED_TYPES = tuple(sorted({template_resource_type(t) for t in TEMPLATES.values()}
                              | {"MedicationAdministration", "ImagingStudy"}))

#: the result fields shown as "key result" in the table, per topic (api-contract.md)
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "mri-urgency": ("windowHours", "rule"),
    "corticosteroids": ("advice", "rule"),
    "diagnostic-workup": ("steps", "reasons"),
    "treatment-window": ("windowHours", "rule"),
    "mdo-referral": ("disciplines",),
    "treatment-modality": ("firstChoice",),
    "rt-dose": ("schedule", "rule"),
    "survival-estimate": ("score", "group", "medianSurvivalMonths"),
    "aftercare": ("rule",),
    "sins": ("vertebra", "score", "category"),
    "vpbk-eligibility": ("vertebra", "verdict", "technique"),
    "vpbk-preprocedure": ("checks",),
    "mri-order": ("orderedWithinHours", "requiredWithinHours", "wholeSpine"),
}
#: the result field the summary counts per topic
SUMMARY_FIELD: dict[str, str] = {
    "mri-urgency": "windowHours", "corticosteroids": "advice", "treatment-window": "windowHours",
    "treatment-modality": "firstChoice", "rt-dose": "schedule", "survival-estimate": "group",
    "sins": "category", "vpbk-eligibility": "verdict", "mri-order": "requiredWithinHours",
}


class InputError(Exception):
    """A file or path that cannot be used at all."""


@dataclass
class PatientRecord:
    patient_id: str
    resources: list[dict] = field(default_factory=list)
    has_patient_resource: bool = False


@dataclass
class Inputs:
    patients: dict[str, PatientRecord] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # reported, skipped
    fatal: list[str] = field(default_factory=list)      # unusable files/paths (exit 2)
    files: int = 0
    resources: int = 0

    def patient(self, pid: str) -> PatientRecord:
        if pid not in self.patients:
            self.patients[pid] = PatientRecord(pid)
        return self.patients[pid]


# --------------------------------------------------------------------------- reading

def expand_paths(paths: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Files to read (directories expanded, sorted) and errors for missing paths."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".json", ".ndjson"))
            if not found:
                errors.append(f"{raw}: directory holds no *.json or *.ndjson file")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            errors.append(f"{raw}: no such file or directory")
    return files, errors


def _patient_ref(res: dict, uuid_patients: dict[str, str]) -> str | None:
    for key in ("subject", "patient"):
        ref = res.get(key)
        text = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(text, str) or not text:
            continue
        if text in uuid_patients:
            return uuid_patients[text]
        rtype, rid = ref_type_id(text)
        if rtype == "Patient" and rid:
            return rid
        return None  # a subject that is not a patient (Group, Device...)
    return None


def _add_group(inputs: Inputs, items: list[tuple[dict, str | None]], where: str) -> None:
    """Resources that came together (one Bundle, one NDJSON file): group them per patient."""
    uuid_patients: dict[str, str] = {}
    patients: list[str] = []
    for res, full_url in items:
        if res.get("resourceType") == "Patient":
            pid = res.get("id") if isinstance(res.get("id"), str) and res.get("id") else full_url
            if not pid:
                inputs.problems.append(f"{where}: a Patient without id or fullUrl; skipped")
                continue
            patients.append(pid)
            if full_url:
                uuid_patients[full_url] = pid
    only = patients[0] if len(set(patients)) == 1 else None
    for res, full_url in items:
        if res.get("resourceType") == "Patient":
            pid = res.get("id") if isinstance(res.get("id"), str) and res.get("id") else full_url
            if pid:
                rec = inputs.patient(pid)
                rec.resources.append(res)
                rec.has_patient_resource = True
                inputs.resources += 1
            continue
        pid = _patient_ref(res, uuid_patients) or only
        if pid is None:
            rid = res.get("id") if isinstance(res.get("id"), str) else "?"
            inputs.problems.append(f"{where}: {res.get('resourceType')}/{rid} names no patient; skipped")
            continue
        inputs.patient(pid).resources.append(res)
        inputs.resources += 1


def _bundle_items(doc: Any, where: str, problems: list[str], depth: int = 0) -> list[tuple[dict, str | None]]:
    """The resources of a Bundle (nested Bundles unpacked) or of a bare resource."""
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise InputError(f"{where}: not a FHIR resource (no resourceType)")
    if doc["resourceType"] != "Bundle":
        return [(doc, None)]
    if depth > 8:
        problems.append(f"{where}: Bundles nested too deep; skipped")
        return []
    entries = doc.get("entry", [])
    if not isinstance(entries, list):
        raise InputError(f"{where}: Bundle.entry is not a list")
    out: list[tuple[dict, str | None]] = []
    for i, entry in enumerate(entries):
        at = f"{where}: entry {i}"
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            problems.append(f"{at}: no resource with a resourceType; entry skipped")
            continue
        if res["resourceType"] == "OperationOutcome":
            continue
        if res["resourceType"] == "Bundle":
            out.extend(_bundle_items(res, at, problems, depth + 1))
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        out.append((res, full_url))
    return out


def read_json_file(path: Path, inputs: Inputs) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deep") from None
    _add_group(inputs, _bundle_items(doc, str(path), inputs.problems), str(path))


def read_ndjson_file(path: Path, inputs: Inputs) -> None:
    items: list[tuple[dict, str | None]] = []
    good = bad = 0
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    with fh:
        try:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{n}"
                try:
                    doc = json.loads(line)
                    found = _bundle_items(doc, where, inputs.problems)
                except json.JSONDecodeError as exc:
                    inputs.problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                           "line skipped")
                    bad += 1
                    continue
                except (InputError, RecursionError) as exc:
                    inputs.problems.append(f"{exc if isinstance(exc, InputError) else where + ': nested too deep'}"
                                           "; line skipped")
                    bad += 1
                    continue
                good += 1
                items.extend(found)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if bad and not good:
        raise InputError(f"{path}: no line could be read as a FHIR resource")
    _add_group(inputs, items, str(path))


def read_inputs(paths: Iterable[str]) -> Inputs:
    inputs = Inputs()
    files, errors = expand_paths(paths)
    inputs.fatal.extend(errors)
    for path in files:
        reader = read_ndjson_file if path.suffix.lower() in (".ndjson", ".jsonl") else read_json_file
        try:
            reader(path, inputs)
            inputs.files += 1
        except InputError as exc:
            inputs.fatal.append(str(exc))
    return inputs


def add_samples(inputs: Inputs, names: Iterable[str], now: datetime) -> None:
    """Add bundled sample patients (``--sample NAME``, ``--sample all``): each sample's
    Bundle with its dates resolved against ``now``, and its draft orders, as if read
    from a file."""
    from . import samples
    known = [s.id for s in samples.list_samples(now=now)]
    wanted: list[str] = []
    for name in names:
        if name == "all":
            wanted.extend(known)
        elif name in known:
            wanted.append(name)
        else:
            raise InputError(f"no sample {name!r}; the samples are: {', '.join(known)}")
    for sid in dict.fromkeys(wanted):
        sample = samples.get_sample(sid, now=now)
        items = [(e["resource"], e.get("fullUrl")) for e in samples.load_bundle(sid, now)["entry"]]
        items += [(e["resource"], None) for e in samples.draft_orders_bundle(sample)["entry"]]
        _add_group(inputs, items, f"sample {sid}")
        inputs.files += 1


# --------------------------------------------------------------------------- evaluating

def load_engine(environ: Mapping[str, str] | None = None) -> Runtime:
    """The same runtime the service builds (settings read once, the same builder), from
    the environment; authentication settings do not apply offline."""
    return build_runtime(read_settings(environ, {"AUTH": "off"}))


def evaluate_patient(rec: PatientRecord, *, hook: str, now: datetime, lang: str,
                     engine: Runtime) -> dict | None:
    """One patient's result object: ``{"patientId", "hook", "evaluatedAt", "cards": [...], "warnings"}``.

    Each card is the CDS Hooks card as the service returns it, plus ``service``
    (the id of the service that gave it). ``None`` for an order hook when the
    patient has no draft order.
    """
    searches = {t: SearchStatus.OK for t in SEARCHED_TYPES}
    drafts = [r for r in rec.resources if r.get("resourceType") in DRAFT_TYPES and r.get("status") == "draft"]
    if hook != "patient-view" and not drafts:
        return None
    cards: list[dict] = []
    warnings: list[str] = []
    for service in (s for s in SERVICES if s.hook == hook):
        outcome = pipeline.run(service, resources=rec.resources, searches=searches, now=now,
                               patient_id=rec.patient_id, lang=lang, policy=engine.policy,
                               catalogs=engine.catalogs, mapping_settings=engine.mapping_settings,
                               base_url=engine.base_url(), draft_orders=drafts if hook != "patient-view" else None)
        cards.extend({"service": service.id, **card} for card in outcome.cards)
        warnings.extend(w for w in outcome.facts.warnings if w not in warnings)
    return {"patientId": rec.patient_id, "hook": hook,
            "evaluatedAt": now.isoformat().replace("+00:00", "Z"), "cards": cards, "warnings": warnings}


# --------------------------------------------------------------------------- output

def topic_of(card: dict) -> str:
    return card.get("source", {}).get("topic", {}).get("code", "?")


def result_of(card: dict) -> dict:
    return card.get("extension", {}).get("org.spine-cds.result", {})


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_fmt(v) for v in value) if value else "-"
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def key_result(card: dict) -> str:
    topic, result = topic_of(card), result_of(card)
    if topic == "vpbk-preprocedure":
        todo = [c.get("code") for c in result.get("checks", []) if c.get("status") in ("not-ok", "unknown")]
        return "to arrange: " + ",".join(todo) if todo else "all in order"
    fields = KEY_FIELDS.get(topic, ("rule",))
    return " ".join(f"{k}={_fmt(result.get(k))}" for k in fields if k in result)


def table_rows(results: list[dict]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for res in results:
        if not res["cards"]:
            rows.append((res["patientId"], "-", "-", "-", "(no cards)", ""))
        for card in res["cards"]:
            rows.append((res["patientId"], card["service"], topic_of(card), card.get("indicator", ""),
                         card.get("summary", ""), key_result(card)))
    return rows


def write_table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    header = ("PATIENT", "SERVICE", "TOPIC", "INDICATOR", "SUMMARY", "KEY RESULT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")


def summarise(results: list[dict]) -> str:
    cards: Counter[str] = Counter()
    patients: dict[str, set[str]] = defaultdict(set)
    values: dict[str, Counter] = defaultdict(Counter)
    for res in results:
        for card in res["cards"]:
            topic = topic_of(card)
            cards[topic] += 1
            patients[topic].add(res["patientId"])
            if topic in SUMMARY_FIELD:
                values[topic][_fmt(result_of(card).get(SUMMARY_FIELD[topic]))] += 1
    with_cards = sum(1 for r in results if r["cards"])
    lines = [f"Summary: {len(results)} patients, {with_cards} with cards, {sum(cards.values())} cards"]
    if cards:
        width = max(len(t) for t in cards)
        lines.append(f"{'TOPIC'.ljust(width)}  CARDS  PATIENTS  BY RESULT")
        for topic in sorted(cards):
            by = ", ".join(f"{k}: {n}" for k, n in sorted(values[topic].items(), key=lambda kv: (-kv[1], kv[0])))
            field_name = SUMMARY_FIELD.get(topic)
            lines.append(f"{topic.ljust(width)}  {cards[topic]:5d}  {len(patients[topic]):8d}  "
                         + (f"{field_name}: {by}" if field_name else ""))
    return "\n".join(line.rstrip() for line in lines) + "\n"


class Progress:
    """A plain progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO, enabled: bool):
        self.total, self.stream = total, stream
        self.enabled = enabled and total > MANY and _isatty(stream)

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} patients")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


class _LogToStderr(logging.Handler):
    """Errors the service would log (e.g. a missing message key) as plain stderr lines."""

    def __init__(self, stream: TextIO, prog: str):
        super().__init__(logging.ERROR)
        self.stream, self.prog = stream, prog

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in record.__dict__.items() if k in ("key", "lang", "error")}
        detail = " ".join(f"{k}={v}" for k, v in extra.items())
        self.stream.write(f"{self.prog}: warning: {record.getMessage()}{' (' + detail + ')' if detail else ''}\n")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- command

def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now {text!r} is not an ISO 8601 date-time (e.g. 2026-11-23T10:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iter_results(inputs: Inputs, *, hook: str, now: datetime, lang: str,
                 engine: Runtime) -> Iterator[dict | None]:
    for pid in sorted(inputs.patients):
        yield evaluate_patient(inputs.patients[pid], hook=hook, now=now, lang=lang, engine=engine)


def _read_all(args: Any, now: datetime, err: TextIO, prog: str) -> Inputs | None:
    """The patients of the PATHs and samples named, problems reported on ``err``; None when
    there is nothing to evaluate (exit code 2)."""
    if not args.paths and not args.sample:
        err.write(f"{prog}: error: name a PATH or --sample NAME (--sample all: every bundled sample)\n")
        return None
    inputs = read_inputs(args.paths)
    try:
        add_samples(inputs, args.sample or (), now)
    except InputError as exc:
        err.write(f"{prog}: error: {exc}\n")
        return None
    for problem in inputs.problems:
        err.write(f"{prog}: {problem}\n")
    for problem in inputs.fatal:
        err.write(f"{prog}: error: {problem}\n")
    if not inputs.patients:
        err.write(f"{prog}: error: no patient data could be read\n")
        return None
    return inputs


def _evaluate_all(args: Any, inputs: Inputs, now: datetime, engine: Runtime, out: TextIO, err: TextIO,
                  prog: str) -> list[dict]:
    """Every patient's result (JSON Lines written as they come), with a progress bar and the
    rules' log lines on ``err``."""
    progress = Progress(len(inputs.patients), err, enabled=not getattr(args, "quiet", False))
    results: list[dict] = []
    skipped = 0
    handler = _LogToStderr(err, prog)
    rules_log = logging.getLogger("spine_cds")
    rules_log.addHandler(handler)
    try:
        for n, res in enumerate(iter_results(inputs, hook=args.hook, now=now, lang=args.lang, engine=engine), 1):
            progress.update(n)
            if res is None:
                skipped += 1
                continue
            results.append(res)
            if args.format == "json":
                out.write(json.dumps(res, ensure_ascii=False) + "\n")
    finally:
        rules_log.removeHandler(handler)
    progress.close()
    if skipped:
        err.write(f"{prog}: {skipped} patient(s) without draft orders skipped ({args.hook} checks draft orders)\n")
    return results


def run(args: Any, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Execute ``spine-cds evaluate`` with parsed ``args``; returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    prog = "spine-cds evaluate"
    try:
        now = parse_now(args.now)
    except InputError as exc:
        err.write(f"{prog}: {exc}\n")
        return 2
    inputs = _read_all(args, now, err, prog)
    if inputs is None:
        return 2

    from .config import ConfigError
    try:
        engine = load_engine()
    except ConfigError as exc:
        err.write(f"{prog}: configuration error: {exc}\n")
        return 2
    total = len(inputs.patients)
    results = _evaluate_all(args, inputs, now, engine, out, err, prog)
    show_summary = args.summary if args.summary is not None else total > MANY
    if args.format == "table":
        write_table(table_rows(results), out)
        if show_summary:
            out.write("\n" + summarise(results))
    elif show_summary:
        err.write(summarise(results))
    return 2 if inputs.fatal else 0


HELP = """\
Run the guideline offline, without a server, on FHIR R4 data and print the cards.

PATH: a FHIR Bundle JSON file (any Bundle type; a bare resource works too), an
NDJSON file (FHIR Bulk Data export: one resource per line, many patients) or a
directory of them (*.json, *.ndjson, recursively, sorted). Resources are grouped
per patient by their subject/patient reference; in a Bundle with one Patient,
everything belongs to that patient.

Every search counts as succeeded for every resource type: the file is the
record, so what is not in it is read as "none recorded" (e.g. no cancer, no
anticoagulant). Give complete records, or the advice may rest on missing data.

For the order hooks, a patient's ServiceRequests/MedicationRequests with
status "draft" are the draft orders (patients without any are skipped).

Bad NDJSON lines and Bundle entries are reported on stderr (file:line or
file: entry N) and skipped. Exit code 2 when a path is missing, a file is not
usable JSON/FHIR at all, or nothing could be read; otherwise 0.
"""


def add_arguments(p: Any) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="Bundle .json, .ndjson file or directory")
    p.add_argument("--sample", action="append", metavar="NAME",
                   help="a bundled sample patient (cds_service/samples/NAME.json), with its draft orders; "
                        "repeatable; 'all' for every sample")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (default): one row per card; json: one JSON object per patient per line "
                        "(JSON Lines) with its cards")
    p.add_argument("--lang", choices=("nl", "en"), default=os.environ.get("SPINE_CDS_LANGUAGE", "nl")
                   if os.environ.get("SPINE_CDS_LANGUAGE") in ("nl", "en") else "nl",
                   help="card language (default: SPINE_CDS_LANGUAGE, else nl)")
    p.add_argument("--hook", choices=HOOKS, default="patient-view",
                   help="which hook's services to run (default patient-view)")
    p.add_argument("--now", default=None, metavar="ISO",
                   help="evaluation moment, e.g. 2026-11-23T10:00:00Z (default: now); the rules "
                        "measure onsets and freshness against it")
    p.add_argument("--summary", dest="summary", action="store_true", default=None,
                   help=f"print the per-topic summary (default: only for more than {MANY} patients)")
    p.add_argument("--no-summary", dest="summary", action="store_false", help="never print the summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
