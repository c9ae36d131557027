"""Every Azure Pipelines example validates against Microsoft's own schema (vendored here).

The schema types every scalar the way the service reads YAML: ``timeoutInMinutes`` is a
non-empty string, a schedule's ``always`` one of the boolean words as a string, ``condition``
a string. So ``timeoutInMinutes: 120`` or ``always: true`` (a YAML number and boolean) are
errors for a schema validator such as ``check-jsonschema --builtin-schema
vendor.azure-pipelines``, although the service accepts them; the examples quote them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

HERE = Path(__file__).parent / "azure-pipelines-schema"
EXAMPLES = Path(__file__).parents[2] / "examples" / "ci" / "azure-pipelines"


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((HERE / "service-schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """The innermost errors: with anyOf everywhere, the outer one only says "no branch fits"."""
    if not error.context:
        yield error
    for inner in error.context:
        yield from _leaves(inner)


def problems(document: Any) -> list[str]:
    """Each error at the deepest path it reaches, as ``path: message`` (readable in a failure)."""
    found = []
    for error in validator().iter_errors(document):
        leaves = list(_leaves(error))
        deepest = max(len(leaf.absolute_path) for leaf in leaves)
        found += sorted({f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message[:120]}"
                         for leaf in leaves if len(leaf.absolute_path) == deepest})
    return found


def test_the_vendored_schema_is_the_one_its_readme_names() -> None:
    digest = hashlib.sha256((HERE / "service-schema.json").read_bytes()).hexdigest()
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    assert f"SHA-256: `{digest}`" in readme
    comment = json.loads((HERE / "service-schema.json").read_text())["$comment"]
    assert re.search(rf"`\$comment` `{re.escape(comment)}`", readme)
    assert "MIT License" in (HERE / "LICENSE").read_text()


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yml")))
def test_every_example_validates_against_the_official_schema(name: str) -> None:
    document = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert problems(document) == []


@pytest.mark.parametrize(("snippet", "where"), [
    ("jobs:\n- job: a\n  timeoutInMinutes: 120\n  steps: [{script: echo}]\n",
     "jobs/0/timeoutInMinutes: 120 is not of type 'string'"),
    ("trigger: none\nschedules:\n- cron: '1 1 * * *'\n  always: true\nsteps: [{script: echo}]\n",
     "schedules/0/always: True is not of type 'string'"),
])
def test_the_schema_types_scalars_as_the_examples_assume(snippet: str, where: str) -> None:
    assert where in problems(yaml.safe_load(snippet))
    quoted = snippet.replace("120", '"120"').replace("always: true", 'always: "true"')
    assert problems(yaml.safe_load(quoted)) == []
