"""A real S3 API on a free loopback port (moto's server mode) that the portal stores packages in."""

import socket

import httpx
import pytest

BUCKET = "hq-packages"
PREFIX = "chain-a"


@pytest.fixture
def s3(app, monkeypatch):
    """Point the test app's PACKAGE_STORE at a bucket of a fresh S3 server; yields a client."""
    # Imported here: moto takes most of a second to import, and few tests need it.
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's buckets live in the process, not in the server: start from none.
    httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setitem(app.config, "PACKAGE_STORE", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setitem(app.config, "PACKAGE_STORE_ENDPOINT", endpoint)
    client.endpoint = endpoint
    yield client
    client.close()
    server.stop()


def keys(client, prefix: str = PREFIX) -> list[str]:
    """Every object key under a prefix."""
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))
