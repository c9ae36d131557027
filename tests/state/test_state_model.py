"""The State value, its dict form, the snapshot and journal formats, and their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.backends import journal, snapshot
from reconciler.backends.codec import record_from_dict, record_to_dict
from reconciler.errors import StateError
from reconciler.model import UpgradeKey
from reconciler.state import RecordStatus, State, StateChange, fold
from tests.state.helpers import customer, make_record

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "schemas" / "state.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def _part(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}


def test_new_states_differ_in_lineage_and_start_at_zero() -> None:
    a, b = State.new(), State.new()
    assert a.lineage != b.lineage
    assert a.serial == 0
    assert not a.records


def test_modifying_returns_a_new_state_with_the_next_serial() -> None:
    base = State.new()
    one = base.with_record(make_record(1))
    two = one.with_record(make_record(1, attempts=2)).with_record(make_record(2))
    assert (base.serial, one.serial, two.serial) == (0, 1, 3)
    assert not base.records
    assert len(one) == 1
    assert len(two) == 2
    assert two.get(make_record(1).key) == make_record(1, attempts=2)
    gone = two.without(make_record(1).key)
    assert gone.serial == 4
    assert gone.get(make_record(1).key) is None
    assert two.get(make_record(1).key) is not None
    with pytest.raises(TypeError):
        two.records[make_record(3).key] = make_record(3)  # type: ignore[index]


def test_by_customer_lists_every_family_sorted() -> None:
    state = State.of(
        "l", 1, [make_record(1, family="Azure"), make_record(1, family="AAA"), make_record(2)]
    )
    assert [r.key.product_family for r in state.by_customer(customer(1).upper())] == [
        "AAA",
        "Azure",
    ]
    assert state.by_customer("nobody") == []


def test_record_dict_round_trip_and_schema(schema: dict[str, Any]) -> None:
    for record in (make_record(1), make_record(2, failed=True)):
        data = record_to_dict(record)
        jsonschema.validate(data, _part(schema, "record"))
        assert record_from_dict(data) == record
        assert record_from_dict(data, trusted=True) == record


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "done"), ("attempts", -1), ("customer_id", 5), ("line_items", [{}])],
)
def test_record_dicts_are_checked(field: str, value: object) -> None:
    data = record_to_dict(make_record(1))
    data[field] = value
    with pytest.raises((ValueError, TypeError, KeyError)):
        record_from_dict(data)


def test_snapshot_round_trip_is_deterministic_and_valid(schema: dict[str, Any]) -> None:
    records = [make_record(i, status=RecordStatus.IN_PROGRESS) for i in (3, 1, 2)]
    state = State.of("lineage-1", 9, records)
    raw = snapshot.encode(state)
    assert raw == snapshot.encode(State.of("lineage-1", 9, reversed(records)))
    jsonschema.validate(json.loads(raw), schema)
    decoded = snapshot.decode(raw, "test")
    assert decoded == state
    assert snapshot.encode(decoded) == raw  # undecoded records are written back byte for byte
    empty = snapshot.encode(State("l", 0))
    jsonschema.validate(json.loads(empty), schema)
    assert snapshot.decode(empty, "test") == State("l", 0)


def test_journal_lines_match_the_schema(schema: dict[str, Any]) -> None:
    entry_schema = _part(schema, "journal_entry")
    for change in (StateChange.put(4, make_record(1)), StateChange.remove(5, make_record(1).key)):
        line = journal.encode("lineage-1", change)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        jsonschema.validate(json.loads(line), entry_schema)
        assert journal.decode_line(line[:-1], 1) == ("lineage-1", change)


def test_the_packaged_schema_is_identical() -> None:
    packaged = REPO / "reconciler" / "schemas" / "state.schema.json"
    assert packaged.read_bytes() == SCHEMA_PATH.read_bytes()


def test_fold_skips_folded_changes_and_refuses_gaps() -> None:
    state = State.of("l", 2, [make_record(1)])
    changes = [
        StateChange.put(2, make_record(9)),  # already in the snapshot
        StateChange.put(3, make_record(2)),
        StateChange.remove(4, make_record(1).key),
    ]
    folded = fold(state, changes)
    assert folded.serial == 4
    assert set(folded.records) == {make_record(2).key}
    assert fold(state, []) is state
    with pytest.raises(ValueError, match="does not follow"):
        fold(state, [StateChange.put(5, make_record(2))])


def test_a_newer_journal_format_is_refused() -> None:
    line = json.loads(journal.encode("l", StateChange.put(1, make_record(1))))
    assert line["format_version"] == journal.FORMAT_VERSION == "2"
    for newer in ("3", 3):
        with pytest.raises(StateError, match="newer version"):
            journal._parse({**line, "format_version": newer})
    for invalid in ("01", "1.0", " 1", "", True, 0, None):
        with pytest.raises(StateError, match="invalid format_version"):
            journal._parse({**line, "format_version": invalid})


def test_no_secret_looking_fields_are_stored() -> None:
    names = set(record_to_dict(make_record(1))) | set(record_to_dict(make_record(1))["error"] or {})
    assert not {n for n in names if "token" in n or "secret" in n or "authorization" in n}


def test_keys_order_by_customer_then_family() -> None:
    state = State.of("l", 1, [make_record(2), make_record(1, family="Zeta"), make_record(1)])
    assert state.sorted_keys() == [
        UpgradeKey(customer(1), "Azure"),
        UpgradeKey(customer(1), "Zeta"),
        UpgradeKey(customer(2), "Azure"),
    ]
