"""Where stored files' bytes live: a local directory or an S3-compatible bucket; no Flask, no crypto.

A back end keeps opaque blobs under a key made of their content hash (`ab/cd/abcd…`); what the
blobs contain (encrypted files) is `core.files`' business. Both back ends offer the same calls:
`exists`, `open` (a readable binary stream), `put` (bytes), `put_file` (a local file, moved or
uploaded), `delete` and `digests` (every key, for maintenance commands).
"""
import os
import re
import shutil
import tempfile
from typing import BinaryIO, Iterator

DIGEST = re.compile(r"[0-9a-f]{64}")
DIR_MODE = 0o700
FILE_MODE = 0o600


class BlobMissing(Exception):
    """The store has nothing under this digest."""


def key_for(digest: str) -> str:
    if not DIGEST.fullmatch(digest or ""):
        raise BlobMissing(f"not a SHA-256 digest: {digest!r}")
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


def fsync_dir(path: str) -> None:
    """Make the entries of a folder (a file renamed or created in it) durable: fsync the folder itself."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    """Put a written file's content on disk before it is renamed into place (and a row names it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: str, durable: bool = False) -> None:
    """Create `path` (and missing parents) readable by the owner only, whatever the umask.

    `durable`: a folder created here is synced into its parent, so a file kept in it survives a power cut.
    """
    if not os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        if parent != path and not os.path.isdir(parent):
            private_dir(parent, durable)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass
        else:
            if durable:
                fsync_dir(parent)
    if os.stat(path).st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)


def private_file(path: str) -> BinaryIO:
    """Open a new file for writing, readable by the owner only, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


class LocalStore:
    """Blobs in a directory tree, files 0600 in folders 0700; writes are atomic (temporary file, rename).

    And durable: a file's content and its folder entry are synced to disk before `put`/`put_file`
    return, so the database row that names the file, committed after, never points at a file a power
    cut took away.
    """

    name = "local"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self._ready = False

    def _path(self, digest: str) -> str:
        return os.path.join(self.root, *key_for(digest).split("/"))

    def _prepare(self) -> None:
        if not self._ready:
            private_dir(self.root)  # a store made by an older version may have a world-readable root
            private_dir(self.temp_dir)
            self._ready = True

    @property
    def temp_dir(self) -> str:
        """Where files being written wait; on the same file system, so the final step is a rename."""
        return os.path.join(self.root, "tmp")

    def exists(self, digest: str) -> bool:
        return os.path.exists(self._path(digest))

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError:
            raise BlobMissing(digest) from None

    def put(self, digest: str, blob: bytes, replace: bool = False) -> None:
        self._prepare()
        fd, tmp = tempfile.mkstemp(dir=self.temp_dir)  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        self.put_file(digest, tmp, replace=replace)

    def put_file(self, digest: str, path: str, replace: bool = False) -> None:
        """Keep the local file at `path` under `digest`; the file is moved (or removed when already kept)."""
        target = self._path(digest)
        if not replace and os.path.exists(target):
            os.remove(path)
            return
        folder = os.path.dirname(target)
        private_dir(folder, durable=True)
        os.chmod(path, FILE_MODE)
        fsync_file(path)
        try:
            os.replace(path, target)
        except OSError:  # another file system: copy, then rename within the target's
            self._prepare()
            fd, tmp = tempfile.mkstemp(dir=self.temp_dir)
            with open(path, "rb") as source, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
            os.remove(path)
        fsync_dir(folder)

    def delete(self, digest: str) -> None:
        try:
            os.remove(self._path(digest))
        except FileNotFoundError:
            pass

    def digests(self) -> Iterator[str]:
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if DIGEST.fullmatch(name):
                    yield name


class S3Store:
    """Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, …), under an optional key prefix.

    Credentials come the standard boto3 way (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile
    or an instance role). Local temporary files are written encrypted by `core.files` before upload.
    """

    name = "s3"

    def __init__(self, bucket: str, endpoint_url: str | None = None, prefix: str = "", region: str | None = None,
                 client=None):
        if not bucket:
            raise ValueError("S3_BUCKET is required for FILE_STORE_BACKEND=s3")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                                  config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.temp_dir = None  # the system's temporary folder

    def _key(self, digest: str) -> str:
        key = key_for(digest)
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open(self, digest: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissing(digest) from None
            raise

    def put(self, digest: str, blob: bytes, replace: bool = False) -> None:
        if replace or not self.exists(digest):
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=blob)

    def put_file(self, digest: str, path: str, replace: bool = False) -> None:
        try:
            if replace or not self.exists(digest):
                self.client.upload_file(path, self.bucket, self._key(digest))  # multipart when large
        finally:
            os.remove(path)

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))

    def digests(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            for entry in page.get("Contents", []):
                name = entry["Key"].rsplit("/", 1)[-1]
                if DIGEST.fullmatch(name):
                    yield name


def build_store(config) -> "LocalStore | S3Store":
    """The back end the configuration names (FILE_STORE_BACKEND = local | s3)."""
    backend = (config.get("FILE_STORE_BACKEND") or "local").lower()
    if backend == "local":
        return LocalStore(config["FILE_STORE"])
    if backend == "s3":
        return S3Store(config.get("S3_BUCKET"), endpoint_url=config.get("S3_ENDPOINT_URL"),
                       prefix=config.get("S3_PREFIX") or "", region=config.get("S3_REGION"))
    raise ValueError(f"unknown FILE_STORE_BACKEND {backend!r}: use local or s3")
