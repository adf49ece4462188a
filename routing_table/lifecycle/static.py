"""Where a static version's asset list comes from, and uploading a directory to S3.

Three sources (``static deploy``): a file listing the paths, the objects already under the
version's S3 prefix (ListObjectsV2, paginated), or a local directory uploaded first with the
right ``Content-Type`` and ``Cache-Control``.

Caching rules for uploads: a file whose name carries a content hash (``app.3f9a1c2b.js``)
never changes under that name, so browsers and CloudFront may keep it a year (``immutable``);
HTML names stay the same across versions and must be revalidated (``no-cache``); anything else
gets a short lifetime.

S3 calls are not DynamoDB calls: their errors are translated here into ``ObjectStoreError``
in ``s3_errors``. The S3 clients honour ``AWS_ENDPOINT_URL_S3`` and ``AWS_REGION``.

The sync (boto3) and async (aioboto3) helpers share every rule: the request of each upload,
the listing parameters and the parsing of each page are built by pure functions here; the two
differ only in whether the SDK call is awaited.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routing_table.clients import CONTROL_PLANE, resolve_region
from routing_table.errors import InvalidInputError, ObjectStoreError
from routing_table.lifecycle.plan import normalize_asset_path
from routing_table.models import S3Target, parse_target

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"  # HTML: always ask, 304s are cheap
SHORT = "public, max-age=300"
# A hash of 8+ hex characters (or 8+ base32/base64url characters with a digit) as its own
# dot- or dash-separated part of the file name: app.3f9a1c2b.js, chunk-5XKQ2ZBM.js.
_HASHED = re.compile(r"[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$")
_HTML = {".html", ".htm"}
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing "/"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path


def parse_source(source: str) -> S3Location:
    """``s3://bucket/prefix/V`` as a location (S3 naming rules from ``models``)."""
    target = parse_target(source)
    if not isinstance(target, S3Target):
        raise InvalidInputError(
            f"--source {source!r} must be an s3://bucket/prefix URL", field="source", value=source
        )
    return S3Location(target.bucket, target.key_prefix)


def is_hashed(path: str) -> bool:
    return bool(_HASHED.search(path.rsplit("/", 1)[-1]))


def cache_control(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _HTML:
        return REVALIDATE
    return IMMUTABLE if is_hashed(path) else SHORT


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    kind = guessed or "application/octet-stream"
    if kind.startswith("text/") or kind in {"application/javascript", "application/json"}:
        kind += "; charset=utf-8"
    return kind


def object_headers(path: str) -> dict[str, str]:
    """The S3 object settings an uploaded asset carries (``upload_file`` ExtraArgs)."""
    return {"ContentType": content_type(path), "CacheControl": cache_control(path)}


def read_assets_file(path: Path) -> list[str]:
    """Paths one per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(f"cannot read assets file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"assets file {path} is not UTF-8 text") from None
    paths = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            paths.append(normalize_asset_path(text))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path}:{number}: {exc}") from None
    return paths


def list_directory(root: Path) -> dict[str, Path]:
    """Every regular file under ``root`` by its relative, '/'-separated path."""
    if not root.is_dir():
        raise InvalidInputError(f"--dir {root} is not a directory", field="dir", value=str(root))
    files: dict[str, Path] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            full = Path(folder) / name
            if full.is_file():
                files[normalize_asset_path(full.relative_to(root).as_posix())] = full
    return dict(sorted(files.items()))


def s3_client(**kwargs: Any) -> Any:
    """An S3 client with the standard AWS settings (``AWS_ENDPOINT_URL_S3`` included)."""
    import boto3

    kwargs.setdefault("region_name", resolve_region())
    return boto3.client("s3", config=CONTROL_PLANE.botocore_config(), **kwargs)


def aio_s3_client(*, session: Any = None, **kwargs: Any) -> Any:
    """The aioboto3 twin of ``s3_client``: ``async with aio_s3_client() as client``.

    aioboto3's client (not bare aiobotocore's) is needed: it carries ``upload_file``.
    """
    if session is None:
        import aioboto3

        session = aioboto3.Session()
    kwargs.setdefault("region_name", resolve_region())
    return session.client("s3", config=CONTROL_PLANE.botocore_config(), **kwargs)


# --- pure parts shared by the sync and async S3 helpers ---------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """One file's upload: the ``upload_file`` parameters, whichever SDK sends them."""

    path: str  # the asset path, for messages
    params: dict[str, Any]


def list_params(location: S3Location) -> dict[str, str]:
    """ListObjectsV2 parameters for everything under the location (and nothing beside it)."""
    return {"Bucket": location.bucket, "Prefix": _list_start(location)}


def page_paths(page: Mapping[str, Any], location: S3Location) -> list[str]:
    """The asset paths of one ListObjectsV2 page."""
    start = _list_start(location)
    return [
        normalize_asset_path(obj["Key"][len(start) :])
        for obj in page.get("Contents", [])
        if not obj["Key"].endswith("/")  # "folder" placeholder objects are not assets
    ]


def upload_requests(files: Mapping[str, Path], location: S3Location) -> list[Upload]:
    """Each file to its key under the location, with its Content-Type and Cache-Control."""
    return [
        Upload(
            path,
            {
                "Filename": str(full),
                "Bucket": location.bucket,
                "Key": location.key(path),
                "ExtraArgs": {
                    "ContentType": content_type(path),
                    "CacheControl": cache_control(path),
                },
            },
        )
        for path, full in files.items()
    ]


@contextmanager
def s3_errors(what: str, location: S3Location) -> Iterator[None]:
    """SDK errors of the block as one ``ObjectStoreError`` (boto3 and aioboto3 raise the same)."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    # boto3's upload_file wraps the ClientError in S3UploadFailedError; aioboto3's does not.
    except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
        raise _s3_error(what, location, exc) from None


def _list_start(location: S3Location) -> str:
    return f"{location.prefix}/" if location.prefix else ""


# --- sync (boto3) ------------------------------------------------------------------------------


def list_prefix(client: Any, location: S3Location) -> list[str]:
    """Asset paths of every object under the location (ListObjectsV2, all pages)."""
    paths: list[str] = []
    with s3_errors("list", location):
        for page in client.get_paginator("list_objects_v2").paginate(**list_params(location)):
            paths += page_paths(page, location)
    return sorted(paths)


def upload_directory(
    client: Any,
    files: dict[str, Path],
    location: S3Location,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> int:
    """Upload every file to ``location`` with its Content-Type and Cache-Control."""

    def upload(request: Upload) -> None:
        with s3_errors(f"upload {request.path} to", location):
            client.upload_file(**request.params)
        if progress is not None:
            progress(1)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(upload, upload_requests(files, location)))
    return len(files)


# --- async (aioboto3) --------------------------------------------------------------------------


async def alist_prefix(client: Any, location: S3Location) -> list[str]:
    """``list_prefix`` on an aioboto3 S3 client."""
    paths: list[str] = []
    with s3_errors("list", location):
        async for page in client.get_paginator("list_objects_v2").paginate(**list_params(location)):
            paths += page_paths(page, location)
    return sorted(paths)


async def aupload_directory(
    client: Any,
    files: dict[str, Path],
    location: S3Location,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> int:
    """``upload_directory`` on an aioboto3 S3 client: ``concurrency`` uploads in flight.

    A fixed set of workers drains one queue of requests (rather than one task per file), so
    tens of thousands of files cost as many coroutines as the concurrency, not as the files.
    The first failure cancels the other uploads and is raised as it is (not as a group).
    """
    pending = iter(upload_requests(files, location))

    async def worker() -> None:
        for request in pending:  # shared: each request is taken by exactly one worker
            with s3_errors(f"upload {request.path} to", location):
                await client.upload_file(**request.params)
            if progress is not None:
                progress(1)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return len(files)


def _s3_error(what: str, location: S3Location, exc: Exception) -> ObjectStoreError:
    cause = _client_error(exc)
    code = cause.response.get("Error", {}).get("Code") if cause else type(exc).__name__
    where = f"s3://{location.bucket}/{location.prefix}"
    return ObjectStoreError(f"could not {what} {where} ({code}): {cause or exc}", url=where)


def _client_error(exc: BaseException | None) -> Any:
    """The ClientError behind ``exc`` (itself, or the one a wrapper was raised from)."""
    while exc is not None:
        if hasattr(exc, "response"):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
