"""Manifest loading and validation: the bad-manifest corpus, good edge cases, normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler import manifest
from reconciler.errors import ManifestError
from reconciler.model import UpgradeKey

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "bad" / "expected.json").read_text())
G1 = "4c721420-72ad-4708-a0a7-371a2f7b0969"


@pytest.fixture(autouse=True)
def _in_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths are shown relative to the working directory, as a user running from the repo sees.
    monkeypatch.chdir(CORPUS)


def test_corpus_is_large_enough() -> None:
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_manifest_names_file_and_line(case: str) -> None:
    expected = EXPECTED[case]
    target = Path("bad") / case
    path = target.parent if target.parent.name.startswith("22-") else target
    _, problems = manifest.check([path])
    assert len(problems) == expected["count"], [str(p) for p in problems]
    wanted = f"bad/{case}"
    assert any(p.path == wanted and p.line == expected["line"]
               and str(expected["contains"]) in p.message for p in problems), \
        [str(p) for p in problems]


@pytest.mark.parametrize("case", sorted(p.name for p in (CORPUS / "good").iterdir()))
def test_good_edge_case_passes(case: str) -> None:
    desired, problems = manifest.check([Path("good") / case])
    assert problems == []
    assert all(u.customer_id == u.customer_id.lower() for u in desired.upgrades)
    assert all(u.product_family == "Azure" for u in desired.upgrades)


def test_normalisation_and_source_lines() -> None:
    desired = manifest.load([Path("good/upper-case-guid.yaml")])
    (upgrade,) = desired.upgrades
    assert upgrade.key == UpgradeKey(G1, "Azure")
    assert str(upgrade.source) == "good/upper-case-guid.yaml:8"
    assert upgrade.manifest_name == "upper"


def test_crlf_and_bom_keep_line_numbers() -> None:
    for name in ("crlf.yaml", "bom.yaml"):
        (upgrade,) = manifest.load([Path("good") / name]).upgrades
        assert upgrade.source.line == 8
        assert upgrade.customer_name == "Contoso"


def test_multi_document_file_yields_every_document() -> None:
    desired = manifest.load([Path("good/multi-document.yaml")])
    assert [u.manifest_name for u in desired.upgrades] == ["multi-1", "multi-2"]
    assert [u.source.line for u in desired.upgrades] == [8, 18]


def test_labels_and_names_are_kept() -> None:
    (upgrade,) = manifest.load([Path("good/quoted-id-and-labels.yaml")]).upgrades
    assert upgrade.labels == (("region", "emea"), ("wave", "2"))
    assert upgrade.customer_name == "Contoso"


def test_load_raises_with_every_problem() -> None:
    with pytest.raises(ManifestError) as info:
        manifest.load([Path("bad/18-id-number.yaml"), Path("bad/19-id-not-guid.yaml")])
    # Both files' documents are named 'case': a schema error in each hides neither that nor
    # the other.
    assert len(info.value.problems) == 3
    assert "bad/18-id-number.yaml:8:11:" in info.value.problems[0]
    assert "metadata.name 'case' is already used" in info.value.problems[1]


def test_directory_discovery_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    text = (CORPUS / "good" / "upper-case-guid.yaml").read_text()
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b" / "z.yml").write_text(text.replace("upper", "z"))
    (tmp_path / "a.yaml").write_text(text.replace("upper", "a").replace(G1, G1[:-1] + "0"))
    (tmp_path / ".hidden" / "c.yaml").write_text("not: [valid")
    (tmp_path / "notes.txt").write_text("ignored")
    files, problems = manifest.discover([tmp_path])
    assert problems == []
    assert [f.name for f in files] == ["a.yaml", "z.yml"]


def test_missing_path_and_empty_directory_are_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, problems = manifest.check([tmp_path / "missing.yaml", tmp_path / "empty"])
    messages = sorted(p.message for p in problems)
    assert messages == ["no manifest files (*.yaml, *.yml) found in this directory",
                        "no such file or directory"]


def test_file_over_50_mib_is_refused_without_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(manifest.MAX_FILE_BYTES + 1)
    _, problems = manifest.check([big])
    assert len(problems) == 1
    assert problems[0].line == 1
    assert "over the 50 MiB limit" in problems[0].message


def _digest(tmp_path: Path, text: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return manifest.load([path], ["Azure", "Modern"]).digest


_TWO = f"""apiVersion: reconciler/v1
kind: ProductUpgrades
metadata: {{name: wave-1}}
spec:
  productFamily: Azure
  customers:
    - id: {G1}
      name: Contoso
    - id: 58e2af4f-0ad3-4688-8744-be2357cd939a
"""


def test_the_digest_ignores_display_names_comments_and_layout(tmp_path: Path) -> None:
    first = _digest(tmp_path, _TWO)
    assert _digest(tmp_path, _TWO) == first
    assert _digest(tmp_path, _TWO.replace("Contoso", "Contoso Ltd")) == first
    assert _digest(tmp_path, _TWO.replace("      name: Contoso\n", "")) == first
    assert _digest(tmp_path, "# wave one\n" + _TWO.replace(G1, G1.upper())) == first
    reordered = _TWO.replace(f"    - id: {G1}\n      name: Contoso\n", "") \
        + f"    - id: {G1}\n"
    assert _digest(tmp_path, reordered) == first


def test_the_digest_changes_with_what_a_plan_is_made_from(tmp_path: Path) -> None:
    first = _digest(tmp_path, _TWO)
    other = "0a2e0b4c-9d51-4d3e-8a8e-6f2b41a7c3d1"
    changed = {
        "a customer added": _TWO + f"    - id: {other}\n",
        "a customer removed": _TWO.replace("    - id: 58e2af4f-0ad3-4688-8744-be2357cd939a\n",
                                           ""),
        "an id changed": _TWO.replace("58e2af4f", "58e2af4e"),
        "the family changed": _TWO.replace("productFamily: Azure", "productFamily: Modern"),
        "the manifest renamed": _TWO.replace("name: wave-1", "name: wave-2"),
    }
    digests = {what: _digest(tmp_path, text) for what, text in changed.items()}
    assert first not in digests.values()
    assert len(set(digests.values())) == len(digests)


def test_allowed_families_come_from_configuration() -> None:
    _, problems = manifest.check([Path("good/lower-case-family.yaml")], ["Modern"])
    assert [p.message for p in problems] == [
        "spec.productFamily: unknown product family 'azure' (allowed: Modern)"]


def test_the_published_schema_refuses_a_misspelt_family_and_validate_names_the_allowed(
        tmp_path: Path) -> None:
    schema = json.loads((Path(__file__).parent.parent / "schemas" / "manifest.schema.json")
                        .read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = {"apiVersion": "reconciler/v1", "kind": "ProductUpgrades",
                "metadata": {"name": "m"}, "spec": {"customers": []}}
    for family, valid in (("Azure", True), ("azure", True), ("AZURE", True), ("Azur", False),
                          ("Azure plan", False)):
        document["spec"]["productFamily"] = family  # type: ignore[index]
        assert validator.is_valid(document) is valid, family
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {name: m}\n"
                    "spec:\n  productFamily: Azur\n  customers: []\n")
    _, problems = manifest.check([path])
    assert [(p.line, p.message) for p in problems] == [
        (5, "spec.productFamily: unknown product family 'Azur' (allowed: Azure)")]


def test_packaged_schema_matches_published_schema() -> None:
    root = Path(__file__).parent.parent
    assert (root / "schemas" / "manifest.schema.json").read_bytes() == \
        (root / "reconciler" / "schemas" / "manifest.schema.json").read_bytes()


def test_example_manifests_are_valid() -> None:
    desired = manifest.load([Path(__file__).parent.parent / "manifests"])
    assert len({u.customer_id for u in desired.upgrades}) >= 3


_EVERYTHING_WRONG = f"""apiVersion: reconciler/v1
kind: ProductUpgrades
metadata:
  name: wave-1
  labels: &common {{region: emea}}
  name: wave-one
spec:
  productFamily: Azure
  colour: blue
  customers:
    - id: {G1}
      name: !shout Contoso
    - id: {G1}
    - id: not-a-guid
"""


def test_yaml_problems_hide_no_other_problem_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(_EVERYTHING_WRONG)
    _, problems = manifest.check([path])
    assert [(p.line, p.column, p.message.split(" (")[0].split(":")[0]) for p in problems] == [
        (5, 11, "YAML anchor 'common' is not allowed"),
        (6, 3, "duplicate key 'name'"),
        (9, 3, "spec"),
        (12, 13, "unsupported YAML tag '!shout'; only plain strings, numbers, booleans and "
                 "null are allowed"),
        (13, 11, f"customer {G1} is listed twice for Azure"),
        (14, 11, "spec.customers[2].id"),
    ]
    assert "unknown field 'colour'" in problems[2].message
    assert "is not a GUID" in problems[5].message


def test_a_duplicate_customer_is_found_across_a_document_with_an_alias(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        f"apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {{name: a}}\n"
        f"spec:\n  productFamily: Azure\n  customers:\n    - id: &x {G1}\n"
        "      name: *x\n")
    (tmp_path / "b.yaml").write_text(
        f"apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {{name: b}}\n"
        f"spec:\n  productFamily: Azure\n  customers:\n    - id: {G1}\n")
    _, problems = manifest.check([tmp_path])
    assert [(p.path.rsplit("/", 1)[-1], p.line, p.message[:26]) for p in problems] == [
        ("a.yaml", 7, "YAML anchor 'x' is not all"),
        ("a.yaml", 8, "YAML alias 'x' is not allo"),
        ("b.yaml", 7, f"customer {G1[:17]}"),
    ]


def test_aliases_are_never_expanded(tmp_path: Path) -> None:
    # A billion laughs: nine levels of ten aliases each would build 10**9 strings.
    lines = ["apiVersion: reconciler/v1", "kind: ProductUpgrades", "metadata: {name: m}",
             "spec:", "  productFamily: Azure", "  customers: []", "  a0: &a0 [lol]"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    lines += ["  loop: &loop [*loop]"]
    path = tmp_path / "m.yaml"
    path.write_text("\n".join(lines) + "\n")
    _, problems = manifest.check([path])
    assert sum(p.message.startswith("YAML alias") for p in problems) == 91
    assert sum(p.message.startswith("YAML anchor") for p in problems) == 11
    assert sum("unknown field" in p.message for p in problems) == 11


def test_documents_before_a_syntax_error_are_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata: {name: m}\n"
                    "spec: {productFamily: Azure, customers: [], extra: 1}\n---\n"
                    "apiVersion: [\n")
    _, problems = manifest.check([path])
    assert [(p.line, p.message[:21]) for p in problems] == [
        (4, "spec: unknown field '"), (7, "invalid YAML: while p")]
