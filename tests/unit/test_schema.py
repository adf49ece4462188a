"""The table definition and the create plan, without a backend (replies are canned)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from routing_table.core import keys
from routing_table.errors import SchemaMismatchError, StoreError, TableNotFoundError
from routing_table.schema import create_table_plan, schema_differences, table_definition
from routing_table.store.base import Call, Sleep

TABLE = "routes"


def _described(status: str = "ACTIVE", index_status: str = "ACTIVE") -> dict[str, Any]:
    table = copy.deepcopy(table_definition(TABLE))
    table["TableStatus"] = status
    for index in table["GlobalSecondaryIndexes"]:
        index["IndexStatus"] = index_status
    return table


def _drive(replies: list[Any]) -> tuple[Any, list[Any]]:
    plan = create_table_plan(TABLE, timeout=2.0, poll_interval=0.5)
    steps: list[Any] = []
    reply: Any = None
    while True:
        try:
            step = plan.throw(reply) if isinstance(reply, BaseException) else plan.send(reply)
        except StopIteration as done:
            return done.value, steps
        steps.append(step)
        reply = replies.pop(0) if isinstance(step, Call) else None


def test_definition_is_pay_per_request_with_two_all_projection_indexes() -> None:
    definition = table_definition(TABLE)
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    assert definition["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {i["IndexName"]: i for i in definition["GlobalSecondaryIndexes"]}
    assert set(indexes) == {keys.GSI_BY_OWNER, keys.GSI_BY_LIST}
    assert indexes["by-owner"]["KeySchema"][0]["AttributeName"] == "gsi1pk"
    assert indexes["by-list"]["KeySchema"][1]["AttributeName"] == "gsi2sk"
    assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in indexes.values())
    assert {a["AttributeType"] for a in definition["AttributeDefinitions"]} == {"S"}


def test_same_schema_has_no_differences_whatever_the_tuning() -> None:
    actual = _described()
    actual["BillingModeSummary"] = {"BillingMode": "PROVISIONED"}
    actual["GlobalSecondaryIndexes"].append(
        {"IndexName": "extra", "KeySchema": [], "Projection": {"ProjectionType": "KEYS_ONLY"}}
    )
    assert schema_differences(table_definition(TABLE), actual) == []


def test_differences_are_named() -> None:
    actual = _described()
    actual["KeySchema"] = [{"AttributeName": "id", "KeyType": "HASH"}]
    actual["GlobalSecondaryIndexes"] = actual["GlobalSecondaryIndexes"][:1]
    actual["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}
    diffs = schema_differences(table_definition(TABLE), actual)
    assert any(d.startswith("primary key is [('id', 'HASH')]") for d in diffs)
    assert "index by-list is missing" in diffs
    assert "index by-owner projects KEYS_ONLY, expected ALL" in diffs


def test_create_waits_until_table_and_indexes_are_active() -> None:
    missing = TableNotFoundError("missing", table=TABLE, code="ResourceNotFoundException")
    info, steps = _drive(
        [
            missing,
            {"TableDescription": _described("CREATING", "CREATING")},
            {"Table": _described("ACTIVE", "CREATING")},
            {"Table": _described()},
        ]
    )
    assert info.created is True
    assert info.status == "ACTIVE"
    ops = [s.operation if isinstance(s, Call) else "sleep" for s in steps]
    assert ops == ["describe_table", "create_table", "sleep", "describe_table", "sleep",
                   "describe_table"]  # fmt: skip
    assert all(s.seconds == 0.5 for s in steps if isinstance(s, Sleep))


def test_create_race_with_another_creator_is_fine() -> None:
    missing = TableNotFoundError("missing", table=TABLE, code="ResourceNotFoundException")
    in_use = StoreError("in use", table=TABLE, code="ResourceInUseException")
    info, _ = _drive([missing, in_use, {"Table": _described()}])
    assert info.created is False


def test_create_gives_up_after_the_timeout() -> None:
    replies = [{"Table": _described("CREATING")} for _ in range(10)]
    with pytest.raises(StoreError, match="still CREATING after 2s"):
        _drive(replies)


def test_existing_table_with_another_schema_is_refused() -> None:
    other = _described()
    other["KeySchema"] = [{"AttributeName": "id", "KeyType": "HASH"}]
    with pytest.raises(SchemaMismatchError, match="exists with another schema"):
        _drive([{"Table": other}])
