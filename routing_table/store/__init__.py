"""Route storage in the single DynamoDB table: pure plans (``base``) run by a sync (boto3)
shell (``sync``) and an async (aioboto3) shell (``aio``). Every SDK call passes ``calls``."""

from routing_table.store.base import ImportReport, LookupResult, Refusal
from routing_table.store.sync import RouteStore

__all__ = ["ImportReport", "LookupResult", "Refusal", "RouteStore"]
