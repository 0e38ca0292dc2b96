"""Rewrite table-driven case files from the whole-patient form into base + patches.

    python -m tests.support.convert_cases [--dry-run] [FILES...]

FILES default to every case file in tests/cases/. Per file, the cases given
whole (``"resources": [...]``) are rewritten as ``"base"`` plus ``remove`` /
``replace`` / ``modify`` / ``add`` (see tests/support/cases.py); cases already
in base form are left as they are. Bases are chosen per file from the cases'
own resources (a case's first resources, so order is kept), greedily, as long as
a base makes the file smaller than it costs; each gets a name after the case it
was cut from. A base's ``now``/``hook`` is the one most of its cases share.

Before anything is written, every file is checked: it must follow
tests/cases/case-file.schema.json and every case must expand back to exactly
the case it was (same fields, the same resources in the same order). If one
case does not, nothing is written and the command exits 1.
"""
from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from .cases import (
    CASE_DIR,
    INHERITED_FIELDS,
    SCHEMA_NAME,
    Case,
    CaseFormatError,
    Resource,
    bases_for,
    case_files,
    expand_case,
    merge_patch,
    read_json,
    resource_key,
    shared_bases,
)

#: at most this many bases per file: more would save bytes but cost the reader
MAX_BASES = 8
#: a base resource is modified into a case resource only when the patch is at most
#: this share of the resource (a bigger change reads better as the resource itself)
MAX_MODIFY_SHARE = 0.5
#: the fields of a whole-form case, in the order they are written; patch fields
#: take the place of "resources"
FIELD_ORDER = ("id", "rules", "rulesAbsent", "description", "now", "hook", "base", "remove", "replace",
               "modify", "add", "patientId", "searches", "draftOrders", "selections", "expect", "absent")


class ConversionError(Exception):
    """A converted case that would not expand back to the original."""


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def merge_diff(source: Any, target: Any) -> Any:
    """An RFC 7386 merge patch that turns ``source`` into ``target`` (shares ``target``'s values)."""
    if not isinstance(source, dict) or not isinstance(target, dict):
        return target
    patch: dict[str, Any] = {k: None for k in source if k not in target}
    for key, value in target.items():
        if key not in source:
            patch[key] = value
        elif source[key] != value:
            patch[key] = merge_diff(source[key], value)
    return patch


# --------------------------------------------------------------------------- one case against one base

@dataclass
class Patch:
    cost: int
    remove: list[str] = field(default_factory=list)
    replace: list[Resource] = field(default_factory=list)
    modify: dict[str, Any] = field(default_factory=dict)
    add: list[Resource] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in ("remove", "replace", "modify", "add")
                if getattr(self, name)}


Match = tuple[str, int, Any]


class Matcher:
    """How a base resource becomes a case resource: kept, modified or replaced (cached per pair)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], Match | None] = {}
        self._sizes: dict[int, int] = {}

    def size(self, res: Resource) -> int:
        if id(res) not in self._sizes:
            self._sizes[id(res)] = size(res)
        return self._sizes[id(res)]

    def match(self, case_res: Resource, base_res: Resource) -> Match | None:
        """("keep", 0, None), ("modify", cost, patch), ("replace", cost, resource) or None."""
        pair = (id(case_res), id(base_res))
        if pair not in self._cache:
            self._cache[pair] = self._match(case_res, base_res)
        return self._cache[pair]

    def _match(self, case_res: Resource, base_res: Resource) -> Match | None:
        if case_res.get("resourceType") != base_res.get("resourceType") or "id" not in case_res:
            return None
        if case_res == base_res:
            return ("keep", 0, None)
        key = resource_key(base_res)
        patch = merge_diff(base_res, case_res)
        full = self.size(case_res)
        # a merge patch cannot set a null (FHIR JSON has none, but a case might): check it
        if size(patch) <= MAX_MODIFY_SHARE * full and merge_patch(base_res, patch) == case_res:
            return ("modify", len(key) + size(patch) + 4, patch)
        if resource_key(case_res) == key:
            return ("replace", full + 2, case_res)
        return None


@dataclass
class Alignment:
    """``best[i][k]``: the cost of ``resources[:i]`` all matched, in order, within
    ``base[:k]`` (the rest of ``base[:k]`` removed); ``step`` how each cell was reached;
    ``tail[p]``: the cost of adding ``resources[p:]``."""
    best: list[list[float]]
    step: list[list[str]]
    tail: list[int]

    def cost(self, base_length: int) -> tuple[float, int]:
        """(cost, matched prefix) of the cheapest patch against ``base[:base_length]``."""
        return min((self.best[p][base_length] + self.tail[p], -p) for p in range(len(self.tail)))[0:2]


def align(resources: list[Resource], base: list[Resource], matcher: Matcher) -> Alignment:
    n, m = len(resources), len(base)
    inf = float("inf")
    remove_cost = [len(resource_key(b)) + 3 for b in base]
    best: list[list[float]] = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[str]] = [[""] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0
    for k in range(1, m + 1):
        best[0][k] = best[0][k - 1] + remove_cost[k - 1]
        step[0][k] = "remove"
    for i in range(1, n + 1):
        for k in range(1, m + 1):
            removed = best[i][k - 1] + remove_cost[k - 1]
            found = matcher.match(resources[i - 1], base[k - 1])
            matched = best[i - 1][k - 1] + found[1] if found is not None else inf
            best[i][k], step[i][k] = (matched, "match") if matched <= removed else (removed, "remove")
    tail = [0] * (n + 1)
    for p in range(n - 1, -1, -1):
        tail[p] = tail[p + 1] + matcher.size(resources[p]) + 1
    return Alignment(best, step, tail)


def patch_against(resources: list[Resource], base: list[Resource], matcher: Matcher) -> Patch:
    """The cheapest patch that turns ``base`` into ``resources``: a prefix of ``resources``
    matched, in order, to base resources (the others removed), the rest added."""
    table = align(resources, base, matcher)
    total, neg_prefix = table.cost(len(base))
    prefix = -neg_prefix
    patch = Patch(cost=int(total), add=list(resources[prefix:]))
    i, k = prefix, len(base)
    while k > 0:
        base_res = base[k - 1]
        if table.step[i][k] == "remove":
            patch.remove.append(resource_key(base_res))
        else:
            found = matcher.match(resources[i - 1], base_res)
            assert found is not None, "the alignment matched a pair the matcher refuses"
            how, _, value = found
            if how == "modify":
                patch.modify[resource_key(base_res)] = value
            elif how == "replace":
                patch.replace.append(value)
            i -= 1
        k -= 1
    patch.remove.reverse()
    patch.replace.reverse()
    patch.modify = dict(reversed(list(patch.modify.items())))
    return patch


# --------------------------------------------------------------------------- choosing bases

def _keyable(resources: list[Resource]) -> bool:
    keys = [resource_key(r) for r in resources]
    return all("id" in r for r in resources) and len(keys) == len(set(keys))


def _keyable_length(resources: list[Resource]) -> int:
    """The longest prefix of ``resources`` whose resources all have distinct Type/ids."""
    seen: set[str] = set()
    for n, res in enumerate(resources):
        if "id" not in res or resource_key(res) in seen:
            return n
        seen.add(resource_key(res))
    return len(resources)


def choose_bases(cases: list[Case], matcher: Matcher,
                 existing: Sequence[list[Resource]] = ()) -> list[tuple[str, list[Resource]]]:
    """Greedily the new bases that save the most bytes over the whole file (a base is
    written once; ``existing`` bases are already written, so free). The candidates are
    every prefix of every case's resources; one alignment per pair of cases prices all
    prefixes of the one as a base for the other."""
    current = [size(c["resources"]) for c in cases]
    for base in existing:
        current = [min(cur, patch_against(c["resources"], base, matcher).cost + len(c["id"]))
                   for cur, c in zip(current, cases, strict=True)]
    candidates: list[tuple[str, list[Resource]]] = []
    costs: list[list[int]] = []
    seen: set[str] = {json.dumps(base, sort_keys=True) for base in existing}
    for source in cases:
        length = _keyable_length(source["resources"])
        if not length:
            continue
        tables = [align(c["resources"], source["resources"][:length], matcher) for c in cases]
        for n in range(1, length + 1):
            prefix = source["resources"][:n]
            text = json.dumps(prefix, sort_keys=True)
            if text in seen:
                continue
            seen.add(text)
            candidates.append((source["id"], prefix))
            costs.append([int(t.cost(n)[0]) + len(c["id"]) for t, c in zip(tables, cases, strict=True)])
    base_sizes = [size(base) for _, base in candidates]
    chosen: list[int] = []
    while len(chosen) < MAX_BASES:
        best_gain, best_index = 0, -1
        for index, cost_per_case in enumerate(costs):
            if index in chosen:
                continue
            gain = sum(max(0, cur - cost) for cur, cost in zip(current, cost_per_case, strict=True)) - base_sizes[index]
            if gain > best_gain:
                best_gain, best_index = gain, index
        if best_index < 0:
            break
        chosen.append(best_index)
        current = [min(cur, cost) for cur, cost in zip(current, costs[best_index], strict=True)]
    return [candidates[i] for i in chosen]


# --------------------------------------------------------------------------- one file

@dataclass
class FileResult:
    path: pathlib.Path
    doc: dict[str, Any]
    converted: int
    new_bases: list[str]


def _ordered(case: dict[str, Any]) -> dict[str, Any]:
    known = {k: case[k] for k in FIELD_ORDER if k in case}
    return {**known, **{k: v for k, v in case.items() if k not in known}}


def _base_name(source_case: str, taken: set[str]) -> str:
    name, n = f"like-{source_case}", 2
    while name in taken:
        name, n = f"like-{source_case}-{n}", n + 1
    taken.add(name)
    return name


def _fits(case: Case, base: dict[str, Any]) -> bool:
    """A case can name ``base`` only if it gives every field the base would pass on
    (a field the case lacks would otherwise be inherited)."""
    return all(f in case for f in INHERITED_FIELDS if f in base)


def convert_doc(doc: dict[str, Any], shared: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], int, list[str]]:
    """``doc`` with its whole-form cases as base + patches; (new doc, cases converted, new base names).
    The file's own and the shared bases are used where they fit; new bases are added to the file."""
    matcher = Matcher()
    whole = [c for c in doc["cases"] if "base" not in c and _keyable(c.get("resources", []))]
    known = bases_for(doc, shared, "")
    chosen = choose_bases(whole, matcher, [b["resources"] for b in known.values()]) if whole else []
    taken = set(known)
    pool: dict[str, dict[str, Any]] = dict(known)
    new_names: list[str] = []
    for source, resources in chosen:
        name = _base_name(source, taken)
        new_names.append(name)
        pool[name] = {"description": f"the first {len(resources)} resources of case {source}",
                      "resources": copy.deepcopy(resources)}
    assigned: dict[str, tuple[str, Patch]] = {}
    for case in whole:
        options = [(patch_against(case["resources"], base["resources"], matcher), name)
                   for name, base in pool.items() if name not in new_names and _fits(case, base)]
        options += [(patch_against(case["resources"], pool[name]["resources"], matcher), name) for name in new_names]
        if options:
            patch, name = min(options, key=lambda o: o[0].cost + len(o[1]))
            if patch.cost + len(name) < size(case["resources"]):
                assigned[case["id"]] = (name, patch)
    used_new = [n for n in new_names if any(name == n for name, _ in assigned.values())]
    for name in used_new:
        members = [c for c in whole if assigned.get(c["id"], ("",))[0] == name]
        base = pool[name]
        for inherited in ("now", "hook"):
            if all(inherited in c for c in members):
                values = Counter(json.dumps(c[inherited]) for c in members)
                base[inherited] = json.loads(values.most_common(1)[0][0])
        base["resources"] = base.pop("resources")  # written after the defaults
    cases: list[dict[str, Any]] = []
    for case in doc["cases"]:
        if case.get("id") not in assigned:
            cases.append(copy.deepcopy(case))
            continue
        name, patch = assigned[case["id"]]
        base = pool[name]
        out = {k: copy.deepcopy(v) for k, v in case.items() if k != "resources"}
        for inherited in INHERITED_FIELDS:
            if inherited in out and inherited in base and out[inherited] == base[inherited]:
                del out[inherited]
        out["base"] = name
        out.update(patch.fields())
        cases.append(_ordered(out))
    new_doc = {k: v for k, v in doc.items() if k not in ("bases", "cases")}
    own = {**doc.get("bases", {}), **{n: pool[n] for n in used_new}}
    if own:
        new_doc["bases"] = own
    new_doc["cases"] = cases
    return new_doc, len(assigned), used_new


def verify(original: dict[str, Any], converted: dict[str, Any], shared: dict[str, dict[str, Any]],
           schema: dict[str, Any], where: str) -> None:
    """Raise :class:`ConversionError` unless ``converted`` follows the schema and every case
    expands to exactly what the original case expands to."""
    problems = [f"{where}: {'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
                for e in jsonschema.Draft202012Validator(schema).iter_errors(converted)]
    try:
        before = [expand_case(c, bases_for(original, shared, where), where) for c in original["cases"]]
        after = [expand_case(c, bases_for(converted, shared, where), where) for c in converted["cases"]]
    except CaseFormatError as exc:
        raise ConversionError(f"{where}: {exc}") from exc
    if len(before) != len(after):
        problems.append(f"{where}: {len(before)} cases before, {len(after)} after")
    for old, new in zip(before, after, strict=False):
        if old != new:
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            problems.append(f"{where}: case {old.get('id')!r} does not expand back (differs in {changed})")
    if problems:
        raise ConversionError("\n".join(problems))


def render(doc: dict[str, Any]) -> str:
    """The case files' layout: one-space indent, UTF-8, a final newline."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def convert_files(paths: Sequence[pathlib.Path], schema_path: pathlib.Path | None = None) -> list[FileResult]:
    """Convert and verify every file (nothing written). Raises :class:`ConversionError`."""
    results = []
    for path in paths:
        schema = read_json(schema_path or CASE_DIR / SCHEMA_NAME)
        shared = shared_bases(path.parent)
        original = read_json(path)
        converted, count, names = convert_doc(original, shared)
        verify(original, converted, shared, schema, path.name)
        results.append(FileResult(path, converted, count, names))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.convert_cases", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=pathlib.Path, help="case files (default: every file in tests/cases/)")
    parser.add_argument("--dry-run", action="store_true", help="convert and verify, write nothing")
    args = parser.parse_args(argv)
    paths = args.files or case_files(CASE_DIR)
    try:
        results = convert_files(paths)
    except ConversionError as exc:
        print(f"not converted, nothing written:\n{exc}", file=sys.stderr)
        return 1
    for res in results:
        before = res.path.read_text(encoding="utf-8")
        after = render(res.doc)
        print(f"{res.path}: {res.converted} cases as base + patches, bases {res.new_bases or '-'}; "
              f"{before.count(chr(10))} -> {after.count(chr(10))} lines, "
              f"{len(before.encode())} -> {len(after.encode())} bytes")
        if not args.dry_run:
            res.path.write_text(after, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
