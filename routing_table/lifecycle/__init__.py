"""Environment lifecycle and static deploys: the table manager a control plane imports.

``Environments`` (boto3) and ``AsyncEnvironments`` (aioboto3, ``lifecycle.aio``) run the same
pure plans (``lifecycle.plan``); the environment record is in ``lifecycle.records``.
"""

from routing_table.lifecycle.audit import AuditReport, Finding
from routing_table.lifecycle.plan import DeleteResult, DeployResult, EnvView, Lifecycle
from routing_table.lifecycle.records import EnvRecord, EnvSpec, Version
from routing_table.lifecycle.sync import Environments

__all__ = [
    "AuditReport",
    "DeleteResult",
    "DeployResult",
    "EnvRecord",
    "EnvSpec",
    "EnvView",
    "Environments",
    "Finding",
    "Lifecycle",
    "Version",
]
