"""Manifests (YAML) → :class:`~reconciler.model.Desired`, with ``path:line`` on every error.

Discovery, parsing and validation follow the README's "Manifests" section: every problem in
every file is collected (not just the first) and reported as ``path:line:column: message``. The
fast path for valid input composes each file once with libyaml and validates each document once
with jsonschema; line numbers come from the node tree that is already in memory.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import cast

import jsonschema

from reconciler.errors import ManifestError
from reconciler.model import (
    Desired,
    DesiredUpgrade,
    SourceLocation,
    UpgradeKey,
    canonical_family,
    is_guid,
)
from reconciler.schemacheck import build_validator, load_schema, schema_problems
from reconciler.yamlsafe import JSON, Document, Problem, load_documents, locate, problem_at

MAX_FILE_BYTES = 50 * 1024 * 1024
# A valid manifest nests five levels deep (document → spec → customers → item → id). Deeper
# documents are still built (so the schema can say what is wrong) up to this bound.
MAX_DEPTH = 20
SCHEMA = "manifest.schema.json"
SUFFIXES = (".yaml", ".yml")


def display_path(path: Path) -> str:
    """A path as the user should see it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand files and directories into manifest files (recursive, sorted, no hidden ones)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix in SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(Problem(str(path), 1, 1, "no manifest files (*.yaml, *.yml) "
                                                          "found in this directory"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 1, 1, "no such file or directory"))
    unique = list(dict.fromkeys(files))
    return unique, problems


@dataclass(slots=True)
class _Collector:
    """Cross-document bookkeeping: names, customers and the problems found so far."""

    allowed_families: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    upgrades: list[DesiredUpgrade] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    keys: dict[UpgradeKey, SourceLocation] = field(default_factory=dict)

    def add_document(self, file: str, document: Document, *, trusted: bool) -> None:
        """Check what spans documents (names, families, customers) and collect the upgrades.

        ``trusted``: the document passed the schema, so its fields are read as they are (the
        fast path for 100,000 customers). Otherwise the parts that are well formed are still
        checked, so that a schema or YAML problem does not hide a duplicate customer.
        """
        value = document.value
        metadata = value.get("metadata") if isinstance(value, dict) else None
        spec = value.get("spec") if isinstance(value, dict) else None
        if not (isinstance(metadata, dict) and isinstance(spec, dict)):
            return
        name = metadata.get("name")
        if isinstance(name, str):
            name_node = locate(document.node, ["metadata", "name"])
            if name in self.names:
                self.problems.append(problem_at(
                    file, name_node, f"metadata.name '{name}' is already used by the manifest "
                                     f"at {self.names[name]}"))
            else:
                self.names[name] = f"{file}:{name_node.start_mark.line + 1}"
        raw_family = spec.get("productFamily")
        family = self.family(file, document, raw_family) if isinstance(raw_family, str) \
            else None
        if family is None:
            return
        not_before = self.not_before(file, document, spec.get("notBefore"))
        labels = metadata.get("labels") or {}
        if not trusted and not (isinstance(labels, dict)
                                and all(isinstance(v, str) for v in labels.values())):
            labels = {}
        self.add_customers(file, document, name if isinstance(name, str) else "", family,
                           tuple(sorted(cast(dict[str, str], labels).items())), trusted,
                           not_before)

    def not_before(self, file: str, document: Document, raw: object) -> str | None:
        """``spec.notBefore`` in UTC, or None; a time that does not exist is a problem."""
        if not isinstance(raw, str):
            return None  # absent, or the schema reports the wrong type
        when = utc_stamp(raw)
        if when is None and _RFC3339.fullmatch(raw):
            node = locate(document.node, ["spec", "notBefore"])
            self.problems.append(problem_at(
                file, node, f"spec.notBefore: {raw!r} is not a valid time (RFC 3339, with Z "
                            "or an offset, e.g. 2027-01-04T00:00:00Z)"))
        return when

    def family(self, file: str, document: Document, raw: str) -> str | None:
        canonical = canonical_family(raw, self.allowed_families)
        if canonical is None:
            node = locate(document.node, ["spec", "productFamily"])
            allowed = ", ".join(sorted(self.allowed_families))
            self.problems.append(problem_at(
                file, node, f"spec.productFamily: unknown product family {raw!r} "
                            f"(allowed: {allowed})"))
        return canonical

    def add_customers(self, file: str, document: Document, manifest_name: str, family: str,
                      labels: tuple[tuple[str, str], ...], trusted: bool,
                      not_before: str | None = None) -> None:
        spec = cast(dict[str, JSON], cast(dict[str, JSON], document.value)["spec"])
        customers = spec.get("customers")
        if not isinstance(customers, list):
            return
        item_nodes = locate(document.node, ["spec", "customers"]).value
        for index, (customer, node) in enumerate(
                zip(cast(list[dict[str, str]], customers), item_nodes, strict=True)):
            if not trusted and not _well_formed(customer):
                continue  # the schema said what is wrong with it
            key = UpgradeKey.of(customer["id"], family)
            mark = node.start_mark
            location = SourceLocation(file, mark.line + 1, mark.column + 1)
            first = self.keys.get(key)
            if first is not None:
                id_node = locate(document.node, ["spec", "customers", index, "id"])
                self.problems.append(problem_at(
                    file, id_node, f"customer {key.customer_id} is listed twice for "
                                   f"{family}: first at {first}"))
                continue
            self.keys[key] = location
            self.upgrades.append(DesiredUpgrade(key, location, manifest_name,
                                                customer.get("name"), labels, not_before))


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def utc_stamp(text: str) -> str | None:
    """An RFC 3339 time (``Z`` or an offset required) as UTC ``YYYY-MM-DDTHH:MM:SSZ``, or
    None when it is not one (a time without an offset is ambiguous: refused)."""
    if not _RFC3339.fullmatch(text):
        return None
    try:
        when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _well_formed(customer: object) -> bool:
    """Whether a customer entry that failed the schema still names a customer to check."""
    if not isinstance(customer, dict):
        return False
    name = customer.get("name")
    return isinstance(customer.get("id"), str) and is_guid(customer["id"]) \
        and (name is None or isinstance(name, str))


def _escapes(path: Path, roots: Sequence[Path]) -> str | None:
    """Where ``path`` leads when a symbolic link takes it outside every root, else None.

    A link in a reviewed tree (``manifests/evil.yaml -> /proc/self/environ``) would otherwise
    be read, and parse errors quote what it holds; a path named without links is the user's.
    """
    lexical = Path(os.path.abspath(path))
    try:
        target = path.resolve(strict=True)
    except OSError:
        return None  # reading it says what is wrong
    if target == lexical:
        return None
    inside = any(target.is_relative_to(root.resolve()) for root in roots)
    return None if inside else str(target)


def _read(path: Path, file: str, roots: Sequence[Path]) -> tuple[bytes | None, Problem | None]:
    target = _escapes(path, roots)
    if target is not None:
        # Named by the link only: the target's content is never read, so never echoed.
        return None, Problem(file, 1, 1, "this is a symbolic link to a file outside the working "
                                         f"tree ({', '.join(str(r) for r in roots)}); manifests "
                                         "must be inside it, so it was not read")
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            return None, Problem(file, 1, 1, f"the file is {size / 2**20:.1f} MiB, over the "
                                             "50 MiB limit for a manifest")
        return path.read_bytes(), None
    except OSError as exc:
        return None, Problem(file, 1, 1, f"cannot read the file: {exc.strerror}")


@cache
def _validator() -> jsonschema.protocols.Validator:
    """The published schema without its list of product families.

    The published schema names only the default family (so an editor flags ``Azur``), but
    which families are allowed is configuration (``product_families``): the collector checks
    the family against it and names the allowed ones.
    """
    schema = copy.deepcopy(load_schema(SCHEMA))
    del schema["properties"]["spec"]["properties"]["productFamily"]["pattern"]
    return build_validator(schema)


def _check_file(file: str, data: bytes, collector: _Collector) -> None:
    documents, problems = load_documents(file, data, max_depth=MAX_DEPTH)
    collector.problems.extend(problems)
    if not documents and not problems:
        collector.problems.append(Problem(file, 1, 1, "the file is empty (it holds no YAML "
                                                      "document)"))
        return
    validator = _validator()
    for document in documents:
        found = schema_problems(file, document, validator)
        collector.problems.extend(found)
        collector.add_document(file, document, trusted=document.clean and not found)


def check(paths: Sequence[Path], allowed_families: Iterable[str] = ("Azure",),
          roots: Sequence[Path] = ()) -> tuple[Desired, list[Problem]]:
    """Load and validate manifests; return what was desired and every problem found.

    ``roots`` is the working tree (default: the current directory): a symbolic link leading
    out of it is refused. The Desired value is only meaningful when the problem list is empty.
    """
    roots = tuple(roots) or (Path.cwd(),)
    files, problems = discover(paths)
    collector = _Collector(tuple(allowed_families), problems)
    shown: list[str] = []
    for path in files:
        file = str(path) if path.is_symlink() else display_path(path)  # name the link
        shown.append(file)
        data, problem = _read(path, file, roots)
        if data is None:
            collector.problems.append(cast(Problem, problem))
            continue
        _check_file(file, data, collector)
    upgrades = tuple(sorted(collector.upgrades, key=lambda u: u.key))
    ordered = sorted(collector.problems, key=lambda p: (p.path, p.line, p.column))
    return Desired(upgrades, digest_of(upgrades), tuple(shown)), ordered


def load(paths: Sequence[Path], allowed_families: Iterable[str] = ("Azure",),
         roots: Sequence[Path] = ()) -> Desired:
    """Load manifests, raising :class:`ManifestError` listing every problem if any."""
    desired, problems = check(paths, allowed_families, roots)
    if problems:
        raise ManifestError([str(p) for p in problems])
    return desired


def digest_of(upgrades: Iterable[DesiredUpgrade]) -> str:
    """The digest a saved plan is checked against: of what the manifests ask for.

    It covers what a plan is made from: each customer id, its product family and the manifest
    (``metadata.name``) that lists it. Display names, comments, layout and line numbers are left
    out, so renaming a customer's ``name:`` or reordering a file keeps a reviewed plan valid,
    while adding, removing or moving a customer, or changing a family, makes it stale.
    """
    text = "\n".join(f"{u.key.customer_id}\0{u.key.product_family}\0{u.manifest_name}"
                     + (f"\0{u.not_before}" if u.not_before else "")
                     for u in sorted(upgrades, key=lambda u: u.key))
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


__all__ = ["MAX_FILE_BYTES", "check", "digest_of", "discover", "load"]
