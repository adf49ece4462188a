"""The one choke point between the project and DynamoDB's API.

Every SDK call goes through ``call`` (boto3) or ``acall`` (aioboto3), which turn botocore's
errors into the project's own, carrying table, key and request id. Nothing else catches
``ClientError``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from routing_table.errors import (
    ConditionFailedError,
    InvalidInputError,
    StoreError,
    TableNotFoundError,
    TableUnreachableError,
    ThrottledError,
    TransactionCanceledError,
    TransactionConflictError,
)

_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
}
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def translate(exc: Exception, *, table: str, operation: str, key: object = None) -> Exception:
    """Map a botocore exception to the project's error type (anything else is returned as is)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "")
        message = err.get("Message", "") or str(exc)
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId")
        ctx: dict[str, Any] = {
            "table": table,
            "key": key,
            "operation": operation,
            "request_id": request_id,
            "code": code,
        }
        if code == "ResourceNotFoundException":
            return TableNotFoundError(
                f"table {table!r} not found ({operation}): create it with "
                f"`edge-router table create --table {table}`",
                **ctx,
            )
        if code in _THROTTLING:
            return ThrottledError(f"DynamoDB throttled {operation} on {table}: {message}", **ctx)
        if code == "ConditionalCheckFailedException":
            failed = ConditionFailedError(
                f"condition failed on {table} {operation} key={key}: {message}", **ctx
            )
            failed.item = exc.response.get("Item")  # type: ignore[assignment]
            return failed
        if code == "TransactionCanceledException":
            return _cancelled(exc, message, ctx)
        if code == "ValidationException":
            return InvalidInputError(f"DynamoDB rejected {operation} on {table}: {message}")
        if code in {"UnrecognizedClientException", "AccessDeniedException"}:
            return StoreError(f"not allowed to {operation} on {table}: {message}", **ctx)
        return StoreError(f"DynamoDB {operation} on {table} failed ({code}): {message}", **ctx)
    if isinstance(exc, _UNREACHABLE):
        return TableUnreachableError(
            f"DynamoDB is unreachable for {operation} on {table}: {exc}",
            table=table,
            key=key,
            operation=operation,
        )
    if isinstance(exc, BotoCoreError):
        return StoreError(
            f"DynamoDB {operation} on {table} failed: {exc}", table=table, operation=operation
        )
    return exc


def _cancelled(exc: ClientError, message: str, ctx: dict[str, Any]) -> StoreError:
    raw: list[Any] = list(exc.response.get("CancellationReasons") or [])
    reasons = [None if r.get("Code") in (None, "None") else r.get("Code") for r in raw]
    if reasons and all(r in (None, "TransactionConflict") for r in reasons):
        return TransactionConflictError(
            f"transaction on {ctx['table']} kept conflicting: {message}", **ctx
        )
    cancelled = TransactionCanceledError(
        f"transaction on {ctx['table']} cancelled ({', '.join(str(r) for r in reasons)})", **ctx
    )
    cancelled.reasons = reasons
    cancelled.items = [r.get("Item") for r in raw]
    return cancelled


def call(client: Any, operation: str, *, table: str, key: object = None, **params: Any) -> Any:
    """Run one DynamoDB API call on a boto3 client; ``operation`` is the snake_case method."""
    try:
        return getattr(client, operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, table=table, operation=operation, key=key) from exc


async def acall(
    client: Any, operation: str, *, table: str, key: object = None, **params: Any
) -> Any:
    """The same as ``call`` for an aioboto3 client."""
    try:
        return await getattr(client, operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, table=table, operation=operation, key=key) from exc
