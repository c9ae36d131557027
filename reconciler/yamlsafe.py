"""Strict, fast YAML loading that remembers where every value came from.

PyYAML hides problems that matter for reviewed configuration: a duplicate mapping key silently
keeps the last value, and anchors/aliases let a small file expand into a huge one. This module
composes documents with libyaml (``yaml.CSafeLoader``) and builds plain Python values from the
node tree itself, so that

* duplicate keys, anchors, aliases, merge keys, custom tags and excessive nesting are reported
  with the offending node's line and column, and
* the node tree stays available to map any JSON-Schema error path back to ``line:column``
  without re-reading the file (valid input never pays for line lookups).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import yaml

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
#: The one field whose unquoted timestamp is read as its text (manifest.md: spec.notBefore).
_TIMESTAMP_KEYS = frozenset({"notBefore"})
_PLAIN_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
# Cheap test for whether the slow anchor scan is needed at all: without '&' or '*' in the text
# there can be no anchor and no alias.
_ANCHOR_HINT = re.compile(rb"[&*]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem at a 1-based line and column of a file."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed YAML document: its plain value and the node tree it was built from."""

    value: JSON
    node: yaml.Node
    index: int
    #: False when building the value found problems (duplicate keys, tags, nesting, aliases...):
    #: the value is then incomplete, so it is still checked against the schema (to report every
    #: problem) but not trusted to be well-formed where the schema passes.
    clean: bool = True
    #: ``id()`` of the nodes whose value was replaced by None because of such a problem: a
    #: schema error about that None only repeats the problem already reported there.
    replaced: frozenset[int] = frozenset()

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1


@dataclass(slots=True)
class _Builder:
    """Builds plain values from nodes, collecting problems instead of raising."""

    path: str
    max_depth: int
    problems: list[Problem]
    constructor: yaml.constructor.SafeConstructor
    #: Set (only when the file has aliases): the ids of the nodes built so far. An alias is the
    #: same node object met again; it is never expanded (the denial of service aliases enable,
    #: and the cycles they can form), but built as None.
    seen: set[int] | None = None
    replaced: set[int] = field(default_factory=set)

    def problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.path, mark.line + 1, mark.column + 1, message))

    def replace(self, node: yaml.Node, message: str | None) -> None:
        """Build ``node`` as None, reporting ``message`` (None: reported elsewhere)."""
        if message is not None:
            self.problem(node, message)
        self.replaced.add(id(node))

    def build(self, node: yaml.Node, depth: int) -> JSON:
        if self.seen is not None:
            if id(node) in self.seen:
                self.replace(node, None)  # an alias: the event scan reported it where it is
                return None
            self.seen.add(id(node))
        if depth > self.max_depth:
            self.replace(node, f"the document nests deeper than the {self.max_depth} levels "
                               "the schema allows")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, depth + 1) for child in node.value]
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        self.problem(node, "unsupported YAML node")  # pragma: no cover - libyaml has no others
        return None

    def scalar(self, node: yaml.ScalarNode) -> JSON:
        tag = node.tag
        if tag == _STR_TAG:
            return cast(str, node.value)
        if tag in _PLAIN_SCALAR_TAGS:
            # Call the tag's constructor directly: construct_object would cache every node.
            construct = self.constructor.yaml_constructors[tag]
            return cast(JSON, construct(self.constructor, node))
        self.replace(node, f"unsupported YAML tag {tag!r}; only plain strings, numbers, "
                           "booleans and null are allowed")
        return None

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, JSON]:
        result: dict[str, JSON] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is None:
                continue
            if key in first_seen:
                first = first_seen[key].start_mark
                self.problem(key_node, f"duplicate key {key!r} (first defined at line "
                                       f"{first.line + 1}, column {first.column + 1})")
                continue
            first_seen[key] = key_node
            if key in _TIMESTAMP_KEYS and isinstance(value_node, yaml.ScalarNode) \
                    and value_node.tag == _TIMESTAMP_TAG:
                # People write `notBefore: 2027-01-04T00:00:00Z` unquoted, which YAML resolves
                # as a timestamp: keep the text as written (the schema checks its form). Any
                # other timestamp stays refused like every other tag.
                result[key] = cast(str, value_node.value)
                continue
            result[key] = self.build(value_node, depth + 1)
        return result

    def key(self, node: yaml.Node) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _MERGE_TAG:
            self.problem(node, "merge keys ('<<') are not allowed")
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, "mapping keys must be plain strings")
            return None
        return cast(str, node.value)


def decode_problem(path: str, data: bytes) -> Problem | None:
    """Return a problem at the first byte that is not UTF-8, or None if the data is UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return Problem(path, line, column,
                       f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})")
    return None


def _anchor_problems(path: str, data: bytes) -> tuple[list[Problem], bool]:
    """Every anchor and alias, found with an event scan (only run when the text hints at one),
    and whether there was an alias. A syntax error ends the scan; composing reports it."""
    problems: list[Problem] = []
    aliased = False
    try:
        for event in yaml.parse(data, Loader=yaml.CSafeLoader):
            anchor = getattr(event, "anchor", None)
            if anchor is None:
                continue
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            alias = isinstance(event, yaml.AliasEvent)
            aliased = aliased or alias
            problems.append(Problem(path, line, column,
                                    f"YAML {'alias' if alias else 'anchor'} '{anchor}' is not "
                                    "allowed (anchors and aliases are refused)"))
    except yaml.YAMLError:
        pass
    return problems, aliased


def _yaml_error_problem(path: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    detail = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}: {detail}" if context else str(detail)
    return Problem(path, line, column, f"invalid YAML: {text}")


def _compose(data: bytes) -> tuple[list[yaml.Node], yaml.YAMLError | None]:
    """The document nodes up to the end, or up to the first error (and that error)."""
    loader = yaml.CSafeLoader(data)
    nodes: list[yaml.Node] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except yaml.YAMLError as exc:
        return nodes, exc
    finally:
        loader.dispose()
    return nodes, None


def load_documents(path: str, data: bytes, *, max_depth: int) -> tuple[list[Document],
                                                                         list[Problem]]:
    """Parse every document of a UTF-8 YAML file into plain values plus their nodes.

    Returns the documents that could be built and every problem found. No problem hides
    another: a file with anchors, aliases or duplicate keys still yields its documents (for the
    schema and the cross-document checks), and the documents before a syntax error are kept.
    Only a file that is not UTF-8 yields nothing else.
    """
    bad_encoding = decode_problem(path, data)
    if bad_encoding is not None:
        return [], [bad_encoding]
    problems: list[Problem] = []
    aliased = False
    if _ANCHOR_HINT.search(data):
        anchors, aliased = _anchor_problems(path, data)
        problems += anchors
    nodes, error = _compose(data)
    # An undefined or duplicate anchor stops composing; the anchor itself is already reported.
    if error is not None and not (problems and isinstance(error, yaml.composer.ComposerError)):
        problems.append(_yaml_error_problem(path, error))
    builder = _Builder(path, max_depth, problems, yaml.constructor.SafeConstructor(),
                       seen=set() if aliased else None)
    documents = []
    for index, node in enumerate(nodes):
        before = len(problems)
        builder.replaced = set()
        value = builder.build(node, 1)
        clean = len(problems) == before and not builder.replaced
        documents.append(Document(value, node, index, clean=clean,
                                  replaced=frozenset(builder.replaced)))
    return documents, problems


def locate(node: yaml.Node, path: Sequence[str | int]) -> yaml.Node:
    """Follow a JSON path (keys and indexes) through a node tree as far as it exists."""
    current = node
    for step in path:
        child = _child(current, step)
        if child is None:
            break
        current = child
    return current


def locate_key(node: yaml.Node, path: Sequence[str | int], key: str) -> yaml.Node:
    """The key node named ``key`` in the mapping at ``path`` (or that mapping if absent)."""
    mapping = locate(node, path)
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _ in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return cast(yaml.Node, key_node)
    return mapping


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == step:
                return cast(yaml.Node, value_node)
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return cast(yaml.Node, node.value[step])
    return None


def problem_at(path: str, node: yaml.Node, message: str) -> Problem:
    """A problem located at a node's start."""
    mark = node.start_mark
    return Problem(path, mark.line + 1, mark.column + 1, message)
