"""The single-table key layout: every key the project reads or writes is built here.

Pure: no boto3, no pydantic, so the edge handler can import it. Keys are plain strings; the
shells wrap them in DynamoDB's attribute-value form (``{"S": ...}``) at the edge of the SDK.

Item kinds (partition key ``pk`` / sort key ``sk``):

========================  ===================================  ==============================
kind                      pk                                   sk
========================  ===================================  ==============================
route entry               ``ROUTE#<host>``                     ``PATH#<prefix>``
host claim                ``ROUTE#<host>``                     ``#HOST``
static asset              ``ASSET#<env>#<service>#<ver>#<n>``  ``<asset path>`` (no leading /)
environment record        ``ENV#<env_id>``                     ``ENV``
pool handle               ``POOL#<pool>``                      ``HANDLE#<handle>``
pool settings             ``POOL#<pool>``                      ``#CONFIG``
random-handle claim       ``HANDLE#<handle>``                  ``CLAIM``
========================  ===================================  ==============================

Secondary indexes (both sparse: an item without the index's key attributes is not in it):

* ``by-owner`` (``gsi1pk = OWNER#<env_id>``, ``gsi1sk = <kind>#...``): every entry an environment
  owns except static assets (routes, host claims, its record, held handles), so delete and audit
  find them with one Query. Assets are reached through the versions listed on the environment
  record instead, which keeps tens of thousands of asset writes off the index.
* ``by-list`` (``gsi2pk``, ``gsi2sk``): ordered lists. ``ENVS`` / ``<env_id>`` lists environments;
  ``FREE#<pool>`` / ``<released_at>#<handle>`` lists a pool's free handles, least recently released
  first. Allocation REMOVEs these attributes, so a held handle drops out of the free list.
"""

from __future__ import annotations

import re
import zlib
from typing import Final

from routing_table.errors import InvalidInputError

TABLE_PK: Final = "pk"
TABLE_SK: Final = "sk"
GSI_BY_OWNER: Final = "by-owner"
GSI_BY_OWNER_PK: Final = "gsi1pk"
GSI_BY_OWNER_SK: Final = "gsi1sk"
GSI_BY_LIST: Final = "by-list"
GSI_BY_LIST_PK: Final = "gsi2pk"
GSI_BY_LIST_SK: Final = "gsi2sk"

ROUTE_PREFIX: Final = "ROUTE#"
PATH_PREFIX: Final = "PATH#"
HOST_CLAIM_SK: Final = "#HOST"
ASSET_PREFIX: Final = "ASSET#"
ENV_PREFIX: Final = "ENV#"
ENV_SK: Final = "ENV"
POOL_PREFIX: Final = "POOL#"
POOL_HANDLE_PREFIX: Final = "HANDLE#"
POOL_CONFIG_SK: Final = "#CONFIG"
HANDLE_CLAIM_PREFIX: Final = "HANDLE#"
HANDLE_CLAIM_SK: Final = "CLAIM"
OWNER_PREFIX: Final = "OWNER#"
ENV_LIST_PK: Final = "ENVS"
FREE_LIST_PREFIX: Final = "FREE#"

# Asset lists of one version are spread over a few partitions so that a deploy of tens of
# thousands of assets is not throttled by one partition's ~1,000 writes/s. The shard of a path
# is a stable function of the path, so the edge still reads an asset with one GetItem.
ASSET_SHARDS: Final = 8

# A route prefix has at most this many segments. With one exact and one wildcard host, the
# candidates for any request are at most 2 * (MAX_PREFIX_SEGMENTS + 1) = 66 keys: one
# BatchGetItem (limit 100) whatever the request's depth.
MAX_PREFIX_SEGMENTS: Final = 32
MAX_BATCH_GET_KEYS: Final = 100

Key = tuple[str, str]
"""A primary key as (pk, sk)."""

_ENV_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def validate_env_id(env_id: str) -> str:
    """Env ids end up inside keys (``ENV#<id>``, ``OWNER#<id>``, ``ASSET#<id>#...``): no ``#``,
    no spaces, nothing a key parser could split on. The one rule for every package."""
    if not _ENV_ID.match(env_id):
        raise InvalidInputError(
            f"environment id {env_id!r} is invalid: 1-128 characters of letters, digits, "
            "'.', '_' and '-', starting with a letter or digit",
            field="env_id",
            value=env_id,
        )
    return env_id


def route_key(host: str, prefix: str) -> Key:
    """Key of the route entry for a normalised host (or ``*.parent``) and path prefix."""
    return ROUTE_PREFIX + host, PATH_PREFIX + prefix


def host_claim_key(host: str) -> Key:
    """Key of the item that says which owner a hostname belongs to."""
    return ROUTE_PREFIX + host, HOST_CLAIM_SK


def route_partition(host: str) -> str:
    """Partition holding every route entry (and the claim) of one host."""
    return ROUTE_PREFIX + host


def parse_route_key(pk: str, sk: str) -> tuple[str, str] | None:
    """Return (host, prefix) for a route entry's key, or None for any other item."""
    if not (pk.startswith(ROUTE_PREFIX) and sk.startswith(PATH_PREFIX)):
        return None
    return pk[len(ROUTE_PREFIX) :], sk[len(PATH_PREFIX) :]


def asset_shard(path: str) -> int:
    """Stable shard of an asset path (crc32 is stable across processes, unlike hash())."""
    return zlib.crc32(path.encode("utf-8")) % ASSET_SHARDS


def asset_key(env_id: str, service: str, version: str, path: str) -> Key:
    """Key of one asset of a static site version; ``path`` is relative, without leading ``/``."""
    return asset_partition(env_id, service, version, asset_shard(path)), path


def asset_partition(env_id: str, service: str, version: str, shard: int) -> str:
    return f"{ASSET_PREFIX}{env_id}#{service}#{version}#{shard}"


def asset_partitions(env_id: str, service: str, version: str) -> list[str]:
    """Every partition of a version's asset list (to list or delete it)."""
    return [asset_partition(env_id, service, version, n) for n in range(ASSET_SHARDS)]


def env_key(env_id: str) -> Key:
    return ENV_PREFIX + env_id, ENV_SK


def pool_handle_key(pool: str, handle: str) -> Key:
    return POOL_PREFIX + pool, POOL_HANDLE_PREFIX + handle


def pool_config_key(pool: str) -> Key:
    return POOL_PREFIX + pool, POOL_CONFIG_SK


def pool_partition(pool: str) -> str:
    return POOL_PREFIX + pool


def handle_claim_key(handle: str) -> Key:
    return HANDLE_CLAIM_PREFIX + handle, HANDLE_CLAIM_SK


def owner_index_pk(env_id: str) -> str:
    return OWNER_PREFIX + env_id


def free_list_pk(pool: str) -> str:
    return FREE_LIST_PREFIX + pool


def free_list_sk(released_at: str, handle: str) -> str:
    """Sort key in a pool's free list; ISO-8601 UTC timestamps sort in time order.

    A handle never used sorts before every released one (``released_at`` empty -> ``0``), so a
    fresh pool hands out handles in name order.
    """
    return f"{released_at or '0'}#{handle}"


OWNER_CLAIM_PREFIX: Final = "CLAIM#"


def owner_handle_sk(pool: str, handle: str) -> str:
    """``by-owner`` sort key of a pool handle an environment holds: ``HANDLE#<pool>#<handle>``."""
    return f"{POOL_HANDLE_PREFIX}{pool}#{handle}"


def owner_handle_prefix(pool: str) -> str:
    """``by-owner`` sort-key prefix of every handle an environment holds in one pool."""
    return f"{POOL_HANDLE_PREFIX}{pool}#"


def owner_claim_sk(handle: str) -> str:
    """``by-owner`` sort key of a random (or explicit, pool-less) handle claim."""
    return OWNER_CLAIM_PREFIX + handle
