"""The project's own exceptions. Pure: importable by the edge handler.

Every error carries the context a person needs to act on it (table, key, environment, owner),
and ``str(err)`` is one line fit for a CLI's stderr. SDK errors are translated into these in one
place per SDK call (``routing_table.store.calls``), never ad hoc.
"""

from __future__ import annotations


class EdgeRouterError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidInputError(EdgeRouterError, ValueError):
    """A value given by a caller (target, host, path, name, file line) is not acceptable."""

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        self.field = field
        self.value = value
        super().__init__(message)


class InvalidHostError(InvalidInputError):
    """A hostname (request Host header or route host pattern) is not a valid DNS name."""


class InvalidPathError(InvalidInputError):
    """A request URI or route path prefix cannot be normalised safely."""


class InvalidTargetError(InvalidInputError):
    """A route target string is not an S3 URL, an http(s) origin or an ALB ARN."""


class MalformedRequestError(InvalidInputError):
    """A viewer request cannot become a CloudFront event (CloudFront answers it 400)."""


class InvalidResultError(EdgeRouterError):
    """The edge function returned something CloudFront would refuse (CloudFront answers 502)."""


class StateDirBusyError(EdgeRouterError):
    """Another process already runs local components (DynamoDB Local) on this state folder."""


class ConfigurationError(EdgeRouterError):
    """The router's configuration file is missing or invalid."""


class PackagingError(EdgeRouterError):
    """The Lambda@Edge zip cannot be built (forbidden import, compiled module, over budget)."""


class StoreError(EdgeRouterError):
    """A DynamoDB call failed. ``table`` and ``key`` say where; ``request_id`` helps AWS support."""

    def __init__(
        self,
        message: str,
        *,
        table: str,
        key: object = None,
        operation: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        self.table = table
        self.key = key
        self.operation = operation
        self.request_id = request_id
        self.code = code
        super().__init__(message)


class TableNotFoundError(StoreError):
    """The routing table does not exist (or is not visible with these credentials/region)."""


class TableUnreachableError(StoreError):
    """DynamoDB could not be reached or did not answer in time (endpoint down, timeout)."""


class ThrottledError(StoreError):
    """DynamoDB kept throttling after the configured retries."""


class OwnershipError(StoreError):
    """An entry belongs to another owner: it may not be overwritten or deleted for this one."""

    def __init__(
        self, message: str, *, table: str, key: object, owner: str | None, requested_by: str
    ) -> None:
        self.owner = owner
        self.requested_by = requested_by
        super().__init__(message, table=table, key=key, code="ConditionalCheckFailed")


class ConditionFailedError(StoreError):
    """A conditional write failed. ``item`` is the blocking item when the call asked for it
    (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), in DynamoDB's attribute-value form."""

    item: dict[str, object] | None = None


class TransactionCanceledError(StoreError):
    """A transaction was cancelled; ``reasons`` holds one code per item (``None`` when fine),
    e.g. ``ConditionalCheckFailed`` or ``TransactionConflict``, and ``items`` the blocking items
    (attribute-value form) where DynamoDB returned them."""

    reasons: list[str | None]
    items: list[dict[str, object] | None]


class TransactionConflictError(StoreError):
    """A transaction kept colliding with another one after the configured retries."""


class SchemaMismatchError(StoreError):
    """The table exists but its keys or indexes differ from ``routing_table.schema``."""


class NotFoundError(EdgeRouterError):
    """Something named by the caller does not exist (environment, route, pool, version)."""


class RouteNotFoundError(NotFoundError):
    def __init__(self, host: str, prefix: str, *, table: str) -> None:
        self.host = host
        self.prefix = prefix
        self.table = table
        super().__init__(f"no route for host {host!r} and path {prefix!r} in table {table}")


class EnvironmentNotFoundError(NotFoundError):
    def __init__(self, env_id: str, *, table: str | None = None) -> None:
        self.env_id = env_id
        self.table = table
        where = f" in table {table}" if table else ""
        super().__init__(f"environment {env_id!r} not found{where}")


class HandleError(EdgeRouterError):
    """Base of handle and pool errors."""


class HandlePoolExhaustedError(HandleError):
    def __init__(self, pool: str, *, size: int | None = None) -> None:
        self.pool = pool
        self.size = size
        detail = f" (all {size} handles are held or cooling down)" if size is not None else ""
        if size == 0:
            detail = f" (it has no handles: add some with `edge-router handles add --pool {pool}`)"
        super().__init__(f"handle pool {pool!r} is exhausted{detail}")


class HandleTakenError(HandleError):
    """An explicit handle is held by another environment; the holder was not touched."""

    def __init__(self, handle: str, *, holder: str | None, pool: str | None = None) -> None:
        self.handle = handle
        self.holder = holder
        self.pool = pool
        where = f" in pool {pool!r}" if pool else ""
        super().__init__(f"handle {handle!r}{where} is held by environment {holder!r}")


class InvalidTemplateError(InvalidInputError):
    """A hostname template is malformed (unknown variable, not one label under ``{domain}``)."""


class InvalidHandleError(InvalidInputError):
    """A handle or pool name is not acceptable (a handle must be a short DNS label)."""


class HandleNotInPoolError(HandleError, NotFoundError):
    def __init__(self, handle: str, *, pool: str) -> None:
        self.handle = handle
        self.pool = pool
        super().__init__(f"handle {handle!r} is not in pool {pool!r}")


class HandleContentionError(HandleError):
    """Allocation kept losing races (or drawing taken names) up to its bound; retrying is safe."""

    def __init__(self, what: str, *, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(f"{what}: still conflicting after {attempts} attempts; retry")


class HandleReleaseBlockedError(HandleError):
    """A release was refused because an entry that must be gone first (a route, a host claim)
    still exists; the handle stays with its environment."""

    def __init__(self, handle: str, *, pool: str | None, env_id: str, blocking: object) -> None:
        self.handle = handle
        self.pool = pool
        self.env_id = env_id
        self.blocking = blocking
        where = f" in pool {pool!r}" if pool else ""
        super().__init__(
            f"handle {handle!r}{where} stays with environment {env_id!r}: "
            f"{blocking} still exists; delete the environment's routes first"
        )


class EnvironmentStateError(EdgeRouterError):
    """An environment cannot do this now: it is being deleted, exists with another spec, or one
    of its routes no longer matches its record (run ``edge-router audit``)."""

    def __init__(self, message: str, *, env_id: str, table: str | None = None) -> None:
        self.env_id = env_id
        self.table = table
        super().__init__(message)


class ObjectStoreError(EdgeRouterError):
    """An S3 call made for a static deploy (list, upload) failed; ``url`` says where."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        super().__init__(message)
