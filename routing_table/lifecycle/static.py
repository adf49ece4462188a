"""Where a static version's asset list comes from, and uploading a directory to S3.

Three sources (``static deploy``): a file listing the paths, the objects already under the
version's S3 prefix (ListObjectsV2, paginated), or a local directory uploaded first with the
right ``Content-Type`` and ``Cache-Control``.

Caching rules for uploads: a file whose name carries a content hash (``app.3f9a1c2b.js``)
never changes under that name, so browsers and CloudFront may keep it a year (``immutable``);
HTML names stay the same across versions and must be revalidated (``no-cache``); anything else
gets a short lifetime.

S3 calls are not DynamoDB calls: their errors are translated here into ``ObjectStoreError``
at their one call site each. The S3 client honours ``AWS_ENDPOINT_URL_S3``.
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    from routing_table.clients import CONTROL_PLANE, resolve_region

    kwargs.setdefault("region_name", resolve_region())
    return boto3.client("s3", config=CONTROL_PLANE.botocore_config(), **kwargs)


def list_prefix(client: Any, location: S3Location) -> list[str]:
    """Asset paths of every object under the location (ListObjectsV2, all pages)."""
    from botocore.exceptions import BotoCoreError, ClientError

    start = f"{location.prefix}/" if location.prefix else ""
    paths: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=start
        ):
            for obj in page.get("Contents", []):
                key: str = obj["Key"]
                if not key.endswith("/"):  # "folder" placeholder objects are not assets
                    paths.append(normalize_asset_path(key[len(start) :]))
    except (ClientError, BotoCoreError) as exc:
        raise _s3_error("list", location, exc) from None
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

    def upload(item: tuple[str, Path]) -> None:
        path, full = item
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ContentType": content_type(path), "CacheControl": cache_control(path)}
        try:
            client.upload_file(str(full), location.bucket, location.key(path), ExtraArgs=extra)
        except (ClientError, BotoCoreError) as exc:
            raise _s3_error(f"upload {path} to", location, exc) from None
        if progress is not None:
            progress(1)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(upload, files.items()))
    return len(files)


def _s3_error(what: str, location: S3Location, exc: Exception) -> ObjectStoreError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    where = f"s3://{location.bucket}/{location.prefix}"
    return ObjectStoreError(f"could not {what} {where} ({code}): {exc}", url=where)
