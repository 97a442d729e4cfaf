"""The service's S3 client (app/aws/s3.py) against a real local S3 server, and its signature
against botocore's for the same request (the local server does not check signatures)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.aws.s3 import S3Store, signed_headers
from app.aws.sigv4 import Credentials
from app.fallback.store import PreconditionFailedError, StoreError
from tests.s3_server import REGION


def test_create_only_and_replace_if_unchanged(bucket: Any) -> None:
    store: S3Store = bucket.store
    assert store.get("snapshot/a.json") is None
    first = store.put("snapshot/a.json", b"one", if_none_match=True)
    with pytest.raises(PreconditionFailedError):
        store.put("snapshot/a.json", b"two", if_none_match=True)
    with pytest.raises(PreconditionFailedError):
        store.put("snapshot/a.json", b"two", if_match='"0123456789abcdef0123456789abcdef"')
    second = store.put("snapshot/a.json", b"two", if_match=first)
    with pytest.raises(PreconditionFailedError):  # the first version is gone
        store.put("snapshot/a.json", b"three", if_match=first)
    found = store.get("snapshot/a.json")
    assert found is not None and (found.body, found.etag) == (b"two", second)


def test_get_if_none_match_is_a_304_without_body(bucket: Any) -> None:
    store: S3Store = bucket.store
    etag = store.put("snapshot/a.json", b"content")
    unchanged = store.get("snapshot/a.json", if_none_match=etag)
    assert unchanged is not None and (unchanged.body, unchanged.etag) == (b"", etag)
    store.put("snapshot/a.json", b"changed")
    changed = store.get("snapshot/a.json", if_none_match=etag)
    assert changed is not None and changed.body == b"changed"


def test_list_and_delete(bucket: Any) -> None:
    store: S3Store = bucket.store
    for name in ("outbox/b/2.json", "outbox/a/1.json", "snapshot/x.json"):
        store.put(name, b"{}")
    assert store.list("outbox/") == ["outbox/a/1.json", "outbox/b/2.json"]
    assert store.list("outbox/", limit=1) == ["outbox/a/1.json"]
    store.delete("outbox/a/1.json")
    store.delete("outbox/a/1.json")  # already gone: still fine
    assert store.list("outbox/") == ["outbox/b/2.json"]


def test_concurrent_create_only_writes_admit_one(bucket: Any) -> None:
    store: S3Store = bucket.store
    results: list[str] = []
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.put("outbox/c/one.json", str(i).encode(), if_none_match=True)
            results.append("won")
        except PreconditionFailedError:
            results.append("lost")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]


def test_unreachable_store_is_a_store_error() -> None:
    store = S3Store("b-b-b", REGION, Credentials("a", "b"), endpoint="http://127.0.0.1:9")
    with pytest.raises(StoreError, match="S3 GET"):
        store.get("snapshot/a.json")


def test_keys_outside_the_project_s_alphabet_are_refused(bucket: Any) -> None:
    with pytest.raises(ValueError, match="unsupported object key"):
        bucket.store.get("../etc/passwd ")


@pytest.mark.parametrize(
    ("method", "path", "body", "extra"),
    [
        ("GET", "/bucket-name/snapshot/published.json", b"", {}),
        ("PUT", "/bucket-name/outbox/abc/def.json", b'{"a":1}', {"if-none-match": "*"}),
        ("GET", "/bucket-name/?list-type=2&max-keys=5&prefix=outbox%2F", b"", {}),
    ],
)
def test_signature_matches_botocore(
    method: str, path: str, body: bytes, extra: dict[str, str]
) -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = f"https://s3.{REGION}.amazonaws.com{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=dict(extra))
    S3SigV4Auth(BotoCredentials("AKIDEXAMPLE", "secret", "token"), "s3", REGION).add_auth(request)
    ours = signed_headers(
        method,
        url,
        body,
        {"host": f"s3.{REGION}.amazonaws.com", **extra},
        credentials=Credentials("AKIDEXAMPLE", "secret", "token"),
        region=REGION,
        amz_date=request.headers["X-Amz-Date"],
    )
    # botocore signs host, x-amz-* and the given headers, as we do.
    assert ours["authorization"] == request.headers["Authorization"]
