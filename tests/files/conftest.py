"""Both file-store back ends for the same tests: a local folder, and a bucket on a local S3-compatible server."""
import uuid

import pytest

from core.storage import LocalStore, S3Store


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free loopback port, for this test run only."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(params=["local", "s3"])
def store(request, app, tmp_path, monkeypatch):
    """An empty store of each back end, made the app's for the test."""
    if request.param == "local":
        backend = LocalStore(str(tmp_path / "files"))
    else:
        client = s3_client(request.getfixturevalue("s3_endpoint"))
        bucket = f"kyc-test-{uuid.uuid4().hex[:12]}"
        client.create_bucket(Bucket=bucket)
        backend = S3Store(bucket, prefix="files", client=client)
    monkeypatch.setitem(app.extensions, "file_store", backend)
    return backend


def raw_blobs(store) -> dict[str, bytes]:
    """What the back end holds, as it holds it (ciphertext), by digest."""
    found = {}
    for digest in store.digests():
        with store.open(digest) as handle:
            found[digest] = handle.read()
    return found
