"""What the distribution carries: the licence it claims, and what its own tests need."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_licence_the_package_claims_is_there() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (REPO / "LICENSE").read_text()
    assert project["license-files"] == ["LICENSE"]


def test_the_sdist_holds_what_the_tests_need_and_one_copy_of_the_schemas() -> None:
    sdist = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["sdist"]
    for needed in ("tests", "examples", "scripts", "manifests", "LICENSE"):
        assert needed in sdist["include"], needed
    assert sdist["force-include"] == {"reconciler/schemas": "schemas"}
    assert (REPO / "schemas").resolve() == (REPO / "reconciler" / "schemas").resolve()
    assert (REPO / "schemas" / "config.schema.json").is_file()


def test_the_project_names_where_it_lives() -> None:
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    repository = "https://github.com/partnercenter-reconciler/partnercenter-reconciler"
    assert set(urls) == {"Homepage", "Repository", "Issues", "Documentation"}
    assert urls["Repository"] == repository
    assert all(url.startswith(repository) for url in urls.values())


def test_every_schema_has_an_id_in_one_scheme() -> None:
    schemas = sorted((REPO / "reconciler" / "schemas").glob("*.schema.json"))
    assert len(schemas) >= 5
    for path in schemas:
        assert json.loads(path.read_text())["$id"] == \
            f"https://partnercenter-reconciler.github.io/schemas/{path.name}", path.name


def test_the_report_template_ships_inside_the_package() -> None:
    """The wheel carries the package directory whole, so the HTML template must live in it
    (found through the package, as the renderer finds it, not through the checkout)."""
    from importlib import resources

    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"]["wheel"]
    assert wheel["packages"] == ["reconciler"]
    template = resources.files("reconciler.render") / "templates" / "report.html.j2"
    assert template.is_file()
    assert "jinja2" in " ".join(tomllib.loads((REPO / "pyproject.toml").read_text())[
        "project"]["dependencies"]).lower()
