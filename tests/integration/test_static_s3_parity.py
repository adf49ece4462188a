"""The S3 side of static deploys, sync (boto3) and async (aioboto3), on moto's S3 server.

Both shells must list the same assets, upload the same objects with the same headers, fail with
the same ``ObjectStoreError``, and deploy the same versions through ``Environments`` /
``AsyncEnvironments`` (DynamoDB on moto and DynamoDB Local).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routing_table.core import keys
from routing_table.errors import ObjectStoreError
from routing_table.lifecycle import static
from routing_table.lifecycle.static import S3Location
from tests.stateful.lifecycle_support import Driver

FILES = {
    "index.html": "<!doctype html><title>x</title>",
    "app.3f9a1c2b.js": "console.log(1)",
    "style.css": "body{}",
    "img/logo.png": "\x89PNG",
    "data/config.json": "{}",
    "docs/read me.txt": "spaces in names",
}


@pytest.fixture
def bucket(moto_s3: str) -> str:
    name = f"site-{uuid.uuid4().hex[:12]}"
    static.s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for path, body in FILES.items():
        full = tmp_path / "dist" / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(body, encoding="utf-8")
    return tmp_path / "dist"


async def _alist(location: S3Location) -> list[str]:
    async with static.aio_s3_client() as client:
        return await static.alist_prefix(client, location)


async def _aupload(files: dict[str, Path], location: S3Location, progress: list[int]) -> int:
    async with static.aio_s3_client() as client:
        return await static.aupload_directory(
            client, files, location, concurrency=3, progress=progress.append
        )


def _objects(bucket: str, prefix: str) -> dict[str, tuple[str, str, bytes]]:
    """Every object under the prefix by asset path: (Content-Type, Cache-Control, body)."""
    client = static.s3_client()
    found = {}
    for path in static.list_prefix(client, S3Location(bucket, prefix)):
        reply = client.get_object(Bucket=bucket, Key=f"{prefix}/{path}")
        found[path] = (reply["ContentType"], reply["CacheControl"], reply["Body"].read())
    return found


def test_uploads_are_the_same_objects_with_the_same_headers(bucket: str, site: Path) -> None:
    files = static.list_directory(site)
    sync_progress: list[int] = []
    uploaded = static.upload_directory(
        static.s3_client(), files, S3Location(bucket, "sync/v1"), progress=sync_progress.append
    )
    async_progress: list[int] = []
    uploaded_async = asyncio.run(_aupload(files, S3Location(bucket, "async/v1"), async_progress))
    assert uploaded == uploaded_async == len(FILES)
    assert sum(sync_progress) == sum(async_progress) == len(FILES)
    by_sync, by_async = _objects(bucket, "sync/v1"), _objects(bucket, "async/v1")
    assert by_sync == by_async
    assert set(by_sync) == set(FILES)
    assert by_sync["app.3f9a1c2b.js"][1] == static.IMMUTABLE
    assert by_sync["index.html"][:2] == ("text/html; charset=utf-8", static.REVALIDATE)
    assert by_sync["docs/read me.txt"][2] == b"spaces in names"


def test_listings_are_the_same_across_pages(bucket: str) -> None:
    client = static.s3_client()
    # More than one ListObjectsV2 page (1,000 keys), a folder placeholder, and a neighbour
    # prefix ("v10") that shares the version's spelling but is not under it.
    expected = [f"a/{n:04d}.js" for n in range(1003)] + ["index.html"]
    for path in expected:
        client.put_object(Bucket=bucket, Key=f"site/v1/{path}", Body=b"")
    client.put_object(Bucket=bucket, Key="site/v1/empty-folder/", Body=b"")
    client.put_object(Bucket=bucket, Key="site/v10/not-mine.js", Body=b"")
    location = S3Location(bucket, "site/v1")
    assert static.list_prefix(client, location) == asyncio.run(_alist(location)) == expected


def test_both_shells_fail_with_the_same_object_store_error(moto_s3: str, site: Path) -> None:
    missing = S3Location(f"absent-{uuid.uuid4().hex[:12]}", "site/v1")
    files = static.list_directory(site)
    errors: list[str] = []
    for attempt in (
        lambda: static.list_prefix(static.s3_client(), missing),
        lambda: asyncio.run(_alist(missing)),
        lambda: static.upload_directory(static.s3_client(), files, missing),
        lambda: asyncio.run(_aupload(files, missing, [])),
    ):
        with pytest.raises(ObjectStoreError, match="NoSuchBucket") as caught:
            attempt()
        assert caught.value.url == f"s3://{missing.bucket}/site/v1"
        errors.append(str(caught.value).split(" (")[0])
    assert errors[0] == errors[1]
    # Uploads run concurrently, so which file fails first differs; the message's form does not.
    for message in errors[2:]:
        assert message.startswith("could not upload "), message


class _SlowClient:
    """An upload_file that records how many uploads are in flight at once, and fails one."""

    def __init__(self, fail_key: str | None = None) -> None:
        self.in_flight = 0
        self.peak = 0
        self.keys: list[str] = []
        self._fail_key = fail_key

    async def upload_file(self, **params: Any) -> None:
        from botocore.exceptions import ClientError

        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0)  # hand the loop to the other workers mid-upload
        await asyncio.sleep(0)
        self.in_flight -= 1
        if params["Key"] == self._fail_key:
            error = {"Error": {"Code": "AccessDenied", "Message": "no"}}
            raise ClientError(error, "PutObject")  # type: ignore[arg-type]
        self.keys.append(params["Key"])


def test_async_upload_bounds_its_concurrency(tmp_path: Path) -> None:
    files = {f"f{n}.js": tmp_path / f"f{n}.js" for n in range(40)}
    client = _SlowClient()
    count = asyncio.run(
        static.aupload_directory(client, files, S3Location("b", "p"), concurrency=5)
    )
    assert count == 40
    assert client.peak == 5
    assert sorted(client.keys) == sorted(f"p/{path}" for path in files)


def test_async_upload_raises_the_first_failure_as_itself(tmp_path: Path) -> None:
    files = {f"f{n}.js": tmp_path / f"f{n}.js" for n in range(20)}
    client = _SlowClient(fail_key="p/f7.js")
    with pytest.raises(
        ObjectStoreError, match=r"could not upload f7\.js to s3://b/p \(AccessDenied"
    ):
        asyncio.run(static.aupload_directory(client, files, S3Location("b", "p"), concurrency=4))
    assert len(client.keys) < 19  # the other workers were cancelled, not run to the end


# --- deploys through Environments / AsyncEnvironments ----------------------------------------


@pytest.fixture(params=["sync", "async"])
def envs(
    request: pytest.FixtureRequest, ddb_backend: str, moto_s3: str, table_name: str, bucket: str
) -> Iterator[Driver]:
    driver = Driver(request.param, table_name)
    driver.create_table()
    driver.create(
        "pr-1", app="portal", domain="example.com", services={"web": f"s3://{bucket}/site"}
    )
    yield driver
    driver.close()


def _served(envs: Driver, version: str) -> set[str]:
    partition = f"{keys.ASSET_PREFIX}pr-1#web#{version}#"  # then the shard
    return {i["sk"]["S"] for i in envs.items() if i["pk"]["S"].startswith(partition)}


def test_deploy_directory_uploads_then_serves_it(envs: Driver, bucket: str, site: Path) -> None:
    uploads: list[int] = []
    result = envs.deploy_directory(
        "pr-1",
        "web",
        "v1",
        site,
        source=f"s3://{bucket}/site/v1",
        spa_fallback="index.html",
        upload_progress=uploads.append,
    )
    assert (result.version, result.assets, result.previous) == ("v1", len(FILES), None)
    assert sum(uploads) == len(FILES)
    assert _served(envs, "v1") == set(FILES)
    objects = _objects(bucket, "site/v1")
    assert {path: headers[:2] for path, headers in objects.items()} == {
        path: (static.content_type(path), static.cache_control(path)) for path in FILES
    }


def test_deploy_from_s3_serves_the_listed_objects(envs: Driver, bucket: str) -> None:
    client = static.s3_client()
    for path in ("index.html", "app.js", "img/logo.png"):
        client.put_object(Bucket=bucket, Key=f"site/v2/{path}", Body=b"x")
    result = envs.deploy_from_s3("pr-1", "web", "v2", source=f"s3://{bucket}/site/v2")
    assert (result.version, result.assets) == ("v2", 3)
    assert _served(envs, "v2") == {"index.html", "app.js", "img/logo.png"}
    assert envs.show("pr-1").routes["web"].static.active_version == "v2"


def test_deploy_from_an_empty_prefix_is_refused(envs: Driver, bucket: str) -> None:
    with pytest.raises(Exception, match="has no assets"):
        envs.deploy_from_s3("pr-1", "web", "v3", source=f"s3://{bucket}/site/v3")
    assert _served(envs, "v3") == set()
