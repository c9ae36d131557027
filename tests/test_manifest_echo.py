"""What manifest errors echo (issue 19, item 13): each problem once, and a short excerpt of a
value, never the value whole."""

from __future__ import annotations

from pathlib import Path

from reconciler import manifest


def test_a_document_missing_every_field_says_each_once(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("foo: 1\n")
    _, problems = manifest.check([path])
    messages = [p.message for p in problems]
    assert len(messages) == len(set(messages)) == 5, messages
    assert "the document: missing required field 'spec'" in messages


def test_a_huge_value_is_echoed_as_an_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: a\n"
                    "spec:\n  productFamily: Azure\n  customers:\n"
                    f"    - id: {'z' * 1_000_000}\n      name: {'n' * 1_000_000}\n"
                    f"{'k' * 1000}: 1\n")  # YAML keys stop at 1,024
    _, problems = manifest.check([path])
    assert len(problems) == 3, problems
    for problem in problems:
        assert len(problem.message) < 400, problem.message[:400]
        assert "…" in problem.message
