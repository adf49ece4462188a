"""Properties of the pure S3 rules the sync and async helpers share (requests, pages, errors)."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from routing_table.errors import ObjectStoreError
from routing_table.lifecycle import static
from routing_table.lifecycle.static import S3Location

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8)
asset_path = (
    st.lists(segment, min_size=1, max_size=4)
    .map("/".join)
    .flatmap(
        lambda stem: st.sampled_from([".html", ".js", ".css", ".png", ".json", ""]).map(
            lambda suffix: stem + suffix
        )
    )
)
prefix = st.lists(segment, max_size=3).map("/".join)


@given(prefix, st.dictionaries(asset_path, st.just(Path("/tmp/x")), max_size=10))
def test_upload_requests_put_each_file_under_the_prefix_with_its_headers(
    where: str, files: dict[str, Path]
) -> None:
    location = S3Location("bucket", where)
    requests = static.upload_requests(files, location)
    assert [r.path for r in requests] == list(files)
    for request in requests:
        params = request.params
        assert params["Bucket"] == "bucket"
        assert params["Key"] == (f"{where}/{request.path}" if where else request.path)
        assert params["ExtraArgs"] == {
            "ContentType": static.content_type(request.path),
            "CacheControl": static.cache_control(request.path),
        }


@given(prefix, st.lists(asset_path, unique=True, max_size=10), st.lists(segment, max_size=3))
def test_a_page_yields_the_asset_paths_under_the_prefix(
    where: str, paths: list[str], folders: list[str]
) -> None:
    location = S3Location("bucket", where)
    start = static.list_params(location)["Prefix"]
    contents = [{"Key": start + p} for p in paths] + [{"Key": f"{start}{f}/"} for f in folders]
    assert static.page_paths({"Contents": contents}, location) == paths
    assert static.page_paths({}, location) == []  # an empty prefix has no Contents at all


@given(prefix)
def test_listing_stays_inside_the_prefix(where: str) -> None:
    # "site/v1/" and never "site/v1": the latter would also list "site/v10/...".
    params = static.list_params(S3Location("bucket", where))
    assert params == {"Bucket": "bucket", "Prefix": f"{where}/" if where else ""}


def test_errors_name_the_code_even_when_wrapped() -> None:
    from boto3.exceptions import S3UploadFailedError

    location = S3Location("bucket", "site/v1")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    for exc in (denied, _wrapped(denied), EndpointConnectionError(endpoint_url="http://s3")):
        try:
            with static.s3_errors("upload a.js to", location):
                raise exc
        except ObjectStoreError as error:
            message = str(error)
        assert message.startswith("could not upload a.js to s3://bucket/site/v1 (")
    assert "(AccessDenied)" in str(static._s3_error("x", location, _wrapped(denied)))
    assert isinstance(_wrapped(denied), S3UploadFailedError)


def _wrapped(cause: Exception) -> Exception:
    from boto3.exceptions import S3UploadFailedError

    try:
        try:
            raise cause
        except ClientError as exc:
            # Implicitly chained, exactly as boto3's transfer raises it.
            raise S3UploadFailedError(f"Failed to upload: {exc}")  # noqa: B904
    except S3UploadFailedError as wrapper:
        return wrapper
