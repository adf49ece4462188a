"""The routing table's definition as data, and an idempotent ``create_table`` (sync and async).

``table_definition`` is the single source of the table's keys and indexes: ``create_table``
sends it, and the CloudFormation stack is tested against it. The layout itself (what each key
holds) is documented in ``routing_table.core.keys``.

Creating is a pure plan (``create_table_plan``) run by the store's sync or async shell, so
both wait for ACTIVE, compare schemas and report errors the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from routing_table.core import keys
from routing_table.errors import SchemaMismatchError, StoreError, TableNotFoundError
from routing_table.store import aio, sync
from routing_table.store.base import Call, Plan, Sleep

ACTIVE = "ACTIVE"


def _index(name: str, pk: str, sk: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        # ALL: listing an environment's routes or a pool's free handles needs the whole item,
        # and a second read per item would cost more than the index storage.
        "Projection": {"ProjectionType": "ALL"},
    }


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable parameters of the routing table (PAY_PER_REQUEST, two sparse GSIs)."""
    attributes = [
        keys.TABLE_PK,
        keys.TABLE_SK,
        keys.GSI_BY_OWNER_PK,
        keys.GSI_BY_OWNER_SK,
        keys.GSI_BY_LIST_PK,
        keys.GSI_BY_LIST_SK,
    ]
    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [
            {"AttributeName": keys.TABLE_PK, "KeyType": "HASH"},
            {"AttributeName": keys.TABLE_SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            _index(keys.GSI_BY_OWNER, keys.GSI_BY_OWNER_PK, keys.GSI_BY_OWNER_SK),
            _index(keys.GSI_BY_LIST, keys.GSI_BY_LIST_PK, keys.GSI_BY_LIST_SK),
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What ``table create`` and ``table describe`` report."""

    name: str
    status: str
    created: bool = False
    item_count: int | None = None
    billing_mode: str | None = None
    arn: str | None = None
    indexes: dict[str, str] = field(default_factory=dict)  # index name -> status

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "item_count": self.item_count,
            "billing_mode": self.billing_mode,
            "arn": self.arn,
            "indexes": dict(self.indexes),
        }


def schema_differences(wanted: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """How an existing table (DescribeTable's ``Table``) differs from ``wanted`` in what the
    code relies on: the primary key and each index's key and projection. Empty if compatible.

    Billing mode, throughput, streams, TTL and extra indexes are deliberately not compared:
    operators may tune those without breaking the layout.
    """
    diffs: list[str] = []
    if _keys(actual.get("KeySchema", [])) != _keys(wanted["KeySchema"]):
        diffs.append(
            f"primary key is {_keys(actual.get('KeySchema', []))}, "
            f"expected {_keys(wanted['KeySchema'])}"
        )
    types = {a["AttributeName"]: a["AttributeType"] for a in actual.get("AttributeDefinitions", [])}
    for attr in wanted["AttributeDefinitions"]:
        name = attr["AttributeName"]
        if name in types and types[name] != attr["AttributeType"]:
            diffs.append(
                f"attribute {name} has type {types[name]}, expected {attr['AttributeType']}"
            )
    have = {i["IndexName"]: i for i in actual.get("GlobalSecondaryIndexes", [])}
    for index in wanted["GlobalSecondaryIndexes"]:
        name = index["IndexName"]
        if name not in have:
            diffs.append(f"index {name} is missing")
            continue
        if _keys(have[name]["KeySchema"]) != _keys(index["KeySchema"]):
            diffs.append(
                f"index {name} key is {_keys(have[name]['KeySchema'])}, "
                f"expected {_keys(index['KeySchema'])}"
            )
        projection = have[name].get("Projection", {}).get("ProjectionType")
        if projection != index["Projection"]["ProjectionType"]:
            diffs.append(f"index {name} projects {projection}, expected ALL")
    return diffs


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def table_info(table: dict[str, Any], *, created: bool = False) -> TableInfo:
    return TableInfo(
        name=table["TableName"],
        status=table.get("TableStatus", "UNKNOWN"),
        created=created,
        item_count=table.get("ItemCount"),
        billing_mode=table.get("BillingModeSummary", {}).get("BillingMode"),
        arn=table.get("TableArn"),
        indexes={
            i["IndexName"]: i.get("IndexStatus", "UNKNOWN")
            for i in table.get("GlobalSecondaryIndexes", [])
        },
    )


def _ready(table: dict[str, Any]) -> bool:
    return table.get("TableStatus") == ACTIVE and all(
        i.get("IndexStatus", ACTIVE) == ACTIVE for i in table.get("GlobalSecondaryIndexes", [])
    )


def describe_plan(table_name: str) -> Plan[TableInfo]:
    reply = yield Call("describe_table", {"TableName": table_name})
    return table_info(reply["Table"])


def create_table_plan(
    table_name: str, *, timeout: float = 300.0, poll_interval: float = 1.0
) -> Plan[TableInfo]:
    """Create the table unless it exists with the same schema, then wait until it and its
    indexes are ACTIVE. A table of the same name with another schema is an error."""
    wanted = table_definition(table_name)
    created = False
    try:
        reply = yield Call("describe_table", {"TableName": table_name})
        current = reply["Table"]
    except TableNotFoundError:
        try:
            reply = yield Call("create_table", wanted)
            current, created = reply["TableDescription"], True
        except StoreError as exc:
            if exc.code != "ResourceInUseException":
                raise
            # Another process created it between our describe and create: check its schema.
            reply = yield Call("describe_table", {"TableName": table_name})
            current = reply["Table"]
    diffs = schema_differences(wanted, current)
    if diffs:
        raise SchemaMismatchError(
            f"table {table_name} exists with another schema: {'; '.join(diffs)}",
            table=table_name,
            operation="create_table",
        )
    polls = 0
    while not _ready(current):
        if polls * poll_interval >= timeout:
            raise StoreError(
                f"table {table_name} is still {current.get('TableStatus')} after {timeout:.0f}s",
                table=table_name,
                operation="create_table",
            )
        yield Sleep(poll_interval)
        polls += 1
        current = (yield Call("describe_table", {"TableName": table_name}))["Table"]
    return table_info(current, created=created)


def create_table(
    client: Any,
    table_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 300.0,
    poll_interval: float = 1.0,
) -> TableInfo:
    """Create the routing table (idempotent) and wait until it is ACTIVE."""
    plan = create_table_plan(table_name, timeout=timeout, poll_interval=poll_interval)
    return sync.run(plan, client, table_name, sleep=sleep)


async def acreate_table(
    client: Any,
    table_name: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    timeout: float = 300.0,
    poll_interval: float = 1.0,
) -> TableInfo:
    """The async twin of ``create_table`` (an open aioboto3 client)."""
    plan = create_table_plan(table_name, timeout=timeout, poll_interval=poll_interval)
    return await aio.run(plan, client, table_name, sleep=sleep)


def describe_table(client: Any, table_name: str) -> TableInfo:
    return sync.run(describe_plan(table_name), client, table_name)


async def adescribe_table(client: Any, table_name: str) -> TableInfo:
    return await aio.run(describe_plan(table_name), client, table_name)
