"""Hostnames and handles for preview environments.

* ``hostnames.names``: the pure hostname generator (template, slugging, truncation + hash).
* ``hostnames.handles``: pure handle rules (validation, random handles, timestamps).
* ``hostnames.pool_plan``: handle pools and claims as pure plans of DynamoDB requests.
* ``hostnames.pool_sync`` / ``hostnames.pool_aio``: the boto3 and aioboto3 shells running them.

Only the pure generator is re-exported here, so importing the package never imports an SDK.
"""

from hostnames.names import DEFAULT_TEMPLATE, generate_hostname

__all__ = ["DEFAULT_TEMPLATE", "generate_hostname"]
