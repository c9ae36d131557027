"""JSON-Schema validation of YAML documents, with messages a reviewer can act on.

jsonschema's own messages quote whole instances and regular expressions; these name the field,
say what was expected, and point at the offending node's line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any, cast

import jsonschema
from jsonschema import ValidationError

from reconciler.render.safe import excerpt
from reconciler.yamlsafe import Document, Problem, locate, locate_key, problem_at

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}

# What a failed ``pattern`` means, by the name of the field it applies to.
_PATTERN_MEANING = {
    "id": "is not a GUID (expected the form 4c721420-72ad-4708-a0a7-371a2f7b0969)",
    "name": "is not a valid name (lower-case letters, digits and dashes, at most 63, "
            "starting and ending with a letter or digit)",
    "timeout": "is not a duration (a number followed by s, m, h or d, for example 90s, 15m, "
               "24h or 2d)",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load a JSON Schema shipped inside the package (``reconciler/schemas/<name>``)."""
    text = resources.files("reconciler").joinpath("schemas", name).read_text("utf-8")
    return cast(dict[str, Any], json.loads(text))


@cache
def validator_for(name: str) -> jsonschema.protocols.Validator:
    """A reusable draft 2020-12 validator for a packaged schema."""
    return build_validator(load_schema(name))


def build_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for a schema (checked first, so a broken schema fails loudly)."""
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    cls = jsonschema.validators.extend(base, {"pattern": _pattern})  # type: ignore[no-untyped-call]
    return cast(jsonschema.protocols.Validator, cls(schema))


def _pattern(validator: Any, pattern: str, instance: object,
             schema: dict[str, Any]) -> Iterable[ValidationError]:
    """The ``pattern`` keyword with ECMA 262's ``$``: the end of the string, nothing after.

    JSON Schema patterns are ECMA 262, where ``$`` is the end of the input; Python's ``$`` also
    matches before a final newline, so ``"<guid>\\n"`` would pass ``^<guid>$`` and reach
    Partner Center as an id that dodges the duplicate check.
    """
    if isinstance(instance, str) and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    # Our schemas use an unescaped $ only as an anchor (never inside [...]); \Z is Python's
    # end of string.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def describe(value: object) -> str:
    """A short description of a value's YAML type, for 'expected X, found Y' messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def where(path: Sequence[str | int]) -> str:
    """Render a JSON path as ``spec.customers[3].id`` (or ``the document`` for the root)."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text or "the document"


def schema_problems(file: str, document: Document,
                    validator: jsonschema.protocols.Validator) -> list[Problem]:
    """Every schema violation of one document, located and phrased for humans.

    A value the YAML loader replaced by None (a custom tag, an alias, nesting too deep) was
    reported where it is; the schema's complaint about that None is left out.
    """
    if document.value is None:
        if id(document.node) in document.replaced:
            return []
        return [problem_at(file, document.node, "the document is empty")]
    errors = sorted(validator.iter_errors(document.value), key=lambda e: list(map(str, e.path)))
    problems: list[Problem] = []
    for error in errors:
        if error.instance is None and document.replaced and \
                id(locate(document.node, list(error.absolute_path))) in document.replaced:
            continue
        problems.extend(_translate(file, document, error))
    # Several branches of a schema (allOf, if/then) can require the same field: say it once.
    return list(dict.fromkeys(problems))


def _translate(file: str, document: Document, error: ValidationError) -> Iterable[Problem]:
    path: list[str | int] = list(error.absolute_path)
    node = locate(document.node, path)
    name = where(path)
    instance = error.instance
    kind = error.validator
    if kind == "required":
        present = instance if isinstance(instance, dict) else {}
        for field in cast(list[str], error.validator_value):
            if field not in present:
                yield problem_at(file, node, f"{name}: missing required field '{field}'")
    elif kind == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = set(cast(dict[str, Any], schema.get("properties", {})))
        for extra in sorted(set(instance) - allowed):
            key_node = locate_key(document.node, path, extra)
            hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
            yield problem_at(file, key_node, f"{name}: unknown field '{excerpt(extra)}'{hint}")
    elif kind == "type":
        expected = _TYPE_NAMES.get(str(error.validator_value), str(error.validator_value))
        yield problem_at(file, node, f"{name}: expected {expected}, found {describe(instance)}")
    elif kind == "const":
        yield problem_at(file, node, f"{name}: must be {error.validator_value!r}, "
                                     f"not {_quoted(instance)}")
    elif kind == "oneOf" and isinstance(error.schema, dict) and error.schema.get("description"):
        # The alternatives' own messages ("is not valid under any of the given schemas") say
        # nothing; the field's description says what it accepts.
        yield problem_at(file, node, f"{name}: {_quoted(instance)} is not accepted here; "
                                     f"{error.schema['description']}")
    elif kind == "pattern":
        field = str(path[-1]) if path else ""
        meaning = _PATTERN_MEANING.get(field, f"does not match {error.validator_value}")
        yield problem_at(file, node, f"{name}: {_quoted(instance)} {meaning}")
    else:
        yield problem_at(file, node, f"{name}: {excerpt(error.message, _MESSAGE)}")


#: jsonschema's own messages quote the value; beyond this they are cut.
_MESSAGE = 200


def _quoted(value: object) -> str:
    """A value as an error quotes it: JSON, at most a short excerpt (a 1,000,000-character
    value is not echoed whole), with control characters escaped."""
    return excerpt(json.dumps(value, ensure_ascii=False))
