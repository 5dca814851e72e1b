"""Files kept encrypted under their content hash, with types checked by content and images decoded on upload.

Every stored file (scans, photos, signatures, recordings, slips, dossiers, exports, imports) goes
through this module; callers keep only the plaintext's SHA-256, which is also the file's address,
so identical content is stored once.

Storage: `core.storage` holds the bytes, in a local directory (FILE_STORE_BACKEND=local, the
default, under FILE_STORE) or an S3-compatible bucket (FILE_STORE_BACKEND=s3, S3_BUCKET,
S3_ENDPOINT_URL, S3_PREFIX, S3_REGION; credentials from the standard AWS variables). The back end
is built once per app (`app.extensions["file_store"]`).

Encryption at rest: AES-256-GCM under `crypto.derived_key(b"kyc-file-encryption")`, in segments of
1 MiB so that large files stream in bounded memory. A file is

    header = b"KYCF" | version (1 byte) | key id (8) | segment size (4, big-endian) | nonce prefix (8)
    then each segment's ciphertext and 16-byte tag

where segment i is sealed with nonce = nonce prefix | i (4 bytes, big-endian) and associated data
= header | last (one byte, 1 on the final segment only). Reordering, truncation at a segment boundary
or appending fails authentication; the header is bound into every segment. The key id (the first
8 bytes of HMAC-SHA256(file key, b"key-id")) tells a later key rotation which key wrote a file.
Reading decrypts, then checks the plaintext's SHA-256 against the address: a mismatch, a foreign key
or a failed tag raises StoredFileUnreadable. Plaintext files left by older versions (no header)
are still read when their SHA-256 matches; `flask files encrypt-existing` converts them.

Nothing is written to disk in the clear: uploads are encrypted before they reach the store, large
writers (exports, imports) encrypt as they stream, and WeasyPrint reads stored images through
`url_fetcher()` (URLs `kyc-file:<sha256>`), never through `file://` paths. The one exception is
`local_copy()`, for readers that must seek (an .xlsx import): a 0600 file in a 0700 folder, removed
as soon as the reader is done.
"""
import contextlib
import hashlib
import hmac
import io
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO, Iterator
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, current_app

from core import crypto, storage

# Leading bytes of the formats the system accepts, so a renamed file is recognised as what it is.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/mpeg": (b"ID3",),
    "audio/amr": (b"#!AMR",),
    "application/zip": (b"PK\x03\x04",),
}


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf", "audio/mpeg": "mp3",
              "audio/wav": "wav", "audio/mp4": "m4a", "audio/amr": "amr", "application/zip": "zip"}

IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
# A 9500×9500 PNG compresses to 11 KB and decodes to 270 MB: images are measured before they are decoded.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000

URL_SCHEME = "kyc-file"
KEY_PURPOSE = b"kyc-file-encryption"
MAGIC = b"KYCF"
VERSION = 1
SEGMENT = 1 << 20
TAG = 16
HEADER = struct.Struct(">4sB8sI8s")  # magic, version, key id, segment size, nonce prefix


def extension_for(mime: str | None) -> str:
    """The file-name extension that matches a detected type."""
    return EXTENSIONS.get(mime or "", "bin")


def sniff(data: bytes) -> str | None:
    """The MIME type the content shows, whatever the file is called."""
    for mime, prefixes in SIGNATURES.items():
        if any(data.startswith(prefix) for prefix in prefixes):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp" and data[8:12] in (b"M4A ", b"M4B "):  # audio-only ISO media, not video
        return "audio/mp4"
    # An MPEG audio frame without an ID3 tag: 11 sync bits, then a valid version and layer III.
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x18 != 0x08 and data[1] & 0x06 == 0x02:
        return "audio/mpeg"
    return None


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    mime: str
    image: ImageSize | None = None  # the size in pixels of an image checked on upload


class FileRejected(Exception):
    """An upload that is not accepted; the message says why, in Chinese."""


class StoredFileUnreadable(Exception):
    """A stored file that is missing, or fails its authentication or SHA-256 check."""


class StoredFileMissing(StoredFileUnreadable):
    """The store has no file under this SHA-256."""


# --- images ---------------------------------------------------------------------------------------

def decode_image(data: bytes, mime: str) -> ImageSize:
    """Decode an uploaded JPEG or PNG completely, after checking its size in pixels; refuse what fails.

    The size comes from the header, before any pixel is decoded, so a decompression bomb costs
    nothing. A file that does not decode is refused here, at upload, not found out in a dossier.
    """
    from PIL import Image, UnidentifiedImageError

    limit = current_app.config.get("MAX_IMAGE_PIXELS") or DEFAULT_MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data), formats=[mime.split("/")[1].upper()]) as image:
            width, height = image.size
            if width * height > limit:
                raise FileRejected(f"图像尺寸过大（{width}×{height} 像素，上限 {limit // 10000} 万像素），"
                                   "请降低分辨率后重新上传")
            # verify() catches truncation even where ImageFile.LOAD_TRUNCATED_IMAGES is on
            # (WeasyPrint turns it on at import); a JPEG must also end with its EOI marker.
            image.verify()
        if mime == "image/jpeg" and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
            raise OSError("truncated JPEG")
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode it all: a corrupt file fails here, not in the dossier
    except Image.DecompressionBombError:  # so large that Pillow itself refuses to open it
        raise FileRejected(f"图像尺寸过大（上限 {limit // 10000} 万像素），请降低分辨率后重新上传") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise FileRejected("图像无法识别或已损坏，请重新扫描或拍摄后上传") from None
    return ImageSize(width, height)


# --- encryption -----------------------------------------------------------------------------------

def _file_key() -> bytes:
    return crypto.derived_key(KEY_PURPOSE)


def _reading_keys() -> list[bytes]:
    """The file keys of every data key that still reads (the current first): during a rotation a file
    written under the previous key is read with it."""
    return crypto.keyring().derived_keys(KEY_PURPOSE)


def key_id(key: bytes) -> bytes:
    return hmac.digest(key, b"key-id", "sha256")[:8]


class _Sealer:
    """Encrypt a stream segment by segment; `update` returns what is ready, `finish` the last segment."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)
        self._prefix = os.urandom(8)
        self.header = HEADER.pack(MAGIC, VERSION, key_id(key), SEGMENT, self._prefix)
        self._counter = 0
        self._pending = bytearray()

    def _seal(self, plaintext: bytes, last: bool) -> bytes:
        nonce = self._prefix + struct.pack(">I", self._counter)
        self._counter += 1
        return self._aead.encrypt(nonce, plaintext, self.header + (b"\x01" if last else b"\x00"))

    def update(self, data: bytes) -> bytes:
        self._pending += data
        out = []
        # A full segment is sealed only once more data follows: the final one must carry the flag.
        while len(self._pending) > SEGMENT:
            out.append(self._seal(bytes(self._pending[:SEGMENT]), last=False))
            del self._pending[:SEGMENT]
        return b"".join(out)

    def finish(self) -> bytes:
        return self._seal(bytes(self._pending), last=True)


def encrypt(data: bytes, key: bytes | None = None) -> bytes:
    sealer = _Sealer(key or _file_key())
    return sealer.header + sealer.update(data) + sealer.finish()


def _read_exact(source, count: int) -> bytes:
    parts, wanted = [], count
    while wanted:
        chunk = source.read(wanted)
        if not chunk:
            break
        parts.append(chunk)
        wanted -= len(chunk)
    return b"".join(parts)


class _Opened(io.RawIOBase):
    """The plaintext of one stored file, decrypted as it is read; the SHA-256 is checked at the end."""

    def __init__(self, source: BinaryIO, digest: str, keys: list[bytes]):
        self._source, self._digest = source, digest
        self._hash = hashlib.sha256()
        self._buffer, self._offset, self._done = b"", 0, False
        head = _read_exact(source, HEADER.size)
        if head[:4] != MAGIC:  # written by an older version, in the clear: checked by its hash only
            self._aead = None
            self._buffer = head
            self._hash.update(head)
            if len(head) < HEADER.size:
                self._finish()
            return
        _magic, version, written_by, self._segment, self._prefix = HEADER.unpack(head)
        if version != VERSION:
            raise StoredFileUnreadable(f"file {digest}: unknown format version {version}")
        key = next((k for k in keys if hmac.compare_digest(written_by, key_id(k))), None)
        if key is None:
            raise StoredFileUnreadable(f"file {digest}: written under another key (key id {written_by.hex()})")
        self.key_id = written_by
        self._aead, self._header, self._counter = AESGCM(key), head, 0
        self._sealed = _read_exact(source, self._segment + TAG)

    def readable(self) -> bool:
        return True

    def _finish(self) -> None:
        self._done = True
        self._source.close()
        if self._hash.hexdigest() != self._digest:
            raise StoredFileUnreadable(f"file {self._digest}: content does not match its SHA-256")

    def _next(self) -> bytes:
        if self._aead is None:
            chunk = self._source.read(SEGMENT)
            if not chunk:
                self._finish()
            self._hash.update(chunk)
            return chunk
        following = _read_exact(self._source, self._segment + TAG)
        last = not following
        nonce = self._prefix + struct.pack(">I", self._counter)
        try:
            plaintext = self._aead.decrypt(nonce, self._sealed, self._header + (b"\x01" if last else b"\x00"))
        except InvalidTag:
            raise StoredFileUnreadable(f"file {self._digest}: segment {self._counter} fails authentication"
                                       " (altered or truncated)") from None
        self._sealed, self._counter = following, self._counter + 1
        self._hash.update(plaintext)
        if last:
            self._finish()
        return plaintext

    def readinto(self, target) -> int:
        while self._offset >= len(self._buffer):
            if self._done:
                return 0
            self._buffer, self._offset = self._next(), 0
        count = min(len(target), len(self._buffer) - self._offset)
        target[:count] = self._buffer[self._offset:self._offset + count]
        self._offset += count
        return count

    def close(self) -> None:
        if not self._done:
            self._source.close()
        super().close()


# --- the store ------------------------------------------------------------------------------------

def backend():
    """The app's storage back end (local directory or S3 bucket)."""
    return current_app.extensions["file_store"]


def store(data: bytes, allowed: set[str], max_bytes: int) -> StoredFile:
    """Check and keep `data`; identical content is stored once. Images are decoded first (pixel limit)."""
    return keep(data, check(data, allowed, max_bytes))


def check(data: bytes, allowed: set[str], max_bytes: int) -> StoredFile:
    """What `store` would keep, checked but not written: size, type by content, images decoded."""
    if not data:
        raise FileRejected("文件为空，请重新选择")
    if len(data) > max_bytes:
        raise FileRejected(f"文件过大（{_size(len(data))}），上限为 {_size(max_bytes)}")
    mime = sniff(data)
    if mime not in allowed:
        raise FileRejected("文件内容不是允许的格式（按文件内容识别，与文件名无关）")
    image = decode_image(data, mime) if mime in IMAGE_TYPES else None
    return StoredFile(hashlib.sha256(data).hexdigest(), len(data), mime, image)


def keep(data: bytes, checked: StoredFile) -> StoredFile:
    """Write `data`, as `check` passed it, encrypted under its digest (once: identical content is shared)."""
    target = backend()
    if not target.exists(checked.sha256):
        target.put(checked.sha256, encrypt(data))
    return checked


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f} MB"
    return f"{max(1, round(count / 1024))} KB"


class Writer(io.RawIOBase):
    """A stored file written as a stream (exports, imports): encrypted into a private temporary file,
    then kept under its SHA-256 by `commit()`. Use through `writing()`."""

    def __init__(self, target, max_bytes: int):
        self._target, self._max = target, max_bytes
        self._sealer = _Sealer(_file_key())
        self._hash = hashlib.sha256()
        self.size, self.head = 0, b""
        temp_dir = target.temp_dir
        if temp_dir:
            storage.private_dir(temp_dir)
        fd, self._path = tempfile.mkstemp(dir=temp_dir, prefix="kyc-upload-")  # 0600
        self._out = os.fdopen(fd, "wb")
        self._out.write(self._sealer.header)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.size += len(data)
        if self.size > self._max:
            raise FileRejected(f"文件过大，上限为 {_size(self._max)}")
        if len(self.head) < 64:
            self.head = (self.head + data)[:64]
        self._hash.update(data)
        self._out.write(self._sealer.update(data))
        return len(data)

    def commit(self, replace: bool = False) -> StoredFile:
        """Keep what was written; the type is sniffed from its first bytes (callers check it)."""
        self._out.write(self._sealer.finish())
        self._out.close()
        digest = self._hash.hexdigest()
        self._target.put_file(digest, self._path, replace=replace)
        self._path = None
        return StoredFile(digest, self.size, sniff(self.head) or "application/octet-stream")

    def discard(self) -> None:
        if not self._out.closed:
            self._out.close()
        if self._path and os.path.exists(self._path):
            os.remove(self._path)
        self._path = None


@contextlib.contextmanager
def writing(max_bytes: int) -> Iterator[Writer]:
    """Write a file to the store as a stream; call `commit()` on it before the block ends, or nothing is kept."""
    writer = Writer(backend(), max_bytes)
    try:
        yield writer
    finally:
        writer.discard()


def exists(sha256: str) -> bool:
    try:
        return backend().exists(sha256)
    except storage.BlobMissing:  # not a digest at all
        return False


def open_stored(sha256: str, store=None, key: bytes | None = None) -> io.BufferedReader:
    """The plaintext of a stored file as a stream (decrypted as read, SHA-256 checked at its end)."""
    try:
        source = (store or backend()).open(sha256)
    except storage.BlobMissing:
        raise StoredFileMissing(f"file {sha256} is not in the store") from None
    return io.BufferedReader(_Opened(source, sha256, [key] if key else _reading_keys()), 1 << 16)


def read(sha256: str) -> bytes:
    """The plaintext of a stored file, decrypted and checked against its SHA-256."""
    with open_stored(sha256) as handle:
        return handle.read()


def detected_type(sha256: str) -> str | None:
    """The type a stored file's content shows (from its first bytes), or None when it is not in the store."""
    try:
        with open_stored(sha256) as handle:
            return sniff(handle.peek(64)[:64])
    except StoredFileMissing:
        return None


@contextlib.contextmanager
def local_copy(sha256: str) -> Iterator[str]:
    """A decrypted copy of a stored file for readers that need a seekable local file; removed afterwards."""
    folder = tempfile.mkdtemp(prefix="kyc-read-")  # 0700
    path = os.path.join(folder, "file")
    try:
        with open_stored(sha256) as source, storage.private_file(path) as out:
            shutil.copyfileobj(source, out, 1 << 20)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def send(sha256: str, mime: str | None, download_name: str, as_attachment: bool = False) -> Response:
    """A response that streams a stored file, never cached (personal information).

    A file shown inline goes out with the type its content shows and a name whose extension matches
    it, so a browser never treats a scan as something else; an attachment keeps the name given.
    """
    try:
        handle = open_stored(sha256)
    except StoredFileMissing:
        from flask import abort

        abort(404, "文件不存在或已被移除，请联系系统管理员。")
    sniffed = sniff(handle.peek(64)[:64])
    if not as_attachment:
        mime = sniffed or mime or "application/octet-stream"
        stem, dot, extension = download_name.rpartition(".")
        if not dot or "/" in extension or len(extension) > 5:
            stem = download_name
        download_name = f"{stem}.{extension_for(mime)}"

    def chunks():
        with handle:
            while chunk := handle.read(1 << 16):
                yield chunk

    response = Response(chunks(), mimetype=mime or sniffed or "application/octet-stream", direct_passthrough=True)
    response.headers.set("Content-Disposition", "attachment" if as_attachment else "inline",
                         **_disposition_names(download_name))
    response.headers["Cache-Control"] = "no-store"
    return response


def _disposition_names(name: str) -> dict:
    # As werkzeug's send_file: an ASCII fallback and the UTF-8 name for browsers that read it.
    try:
        name.encode("ascii")
        return {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"}


# --- WeasyPrint ------------------------------------------------------------------------------------

def url_of(sha256: str) -> str:
    """How a rendered document (dossier) refers to a stored file."""
    return f"{URL_SCHEME}:{sha256}"


def url_fetcher():
    """A WeasyPrint URL fetcher that reads `kyc-file:` URLs from this app's store, and data: URLs.

    Any other URL (file://, http…) and any stored file that cannot be read stops the render: a dossier
    is never printed with a scan silently left out. Holds the store and key, so it also works outside
    the app context once built.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StoreURLFetcher(URLFetcher):
        def __init__(self, store, key):
            super().__init__(allowed_protocols={"data"}, fail_on_errors=True)
            self._store, self._key = store, key

        def fetch(self, url, headers=None):
            scheme, _, rest = url.partition(":")
            if scheme.lower() != URL_SCHEME:
                return super().fetch(url, headers)
            with open_stored(rest, store=self._store, key=self._key) as handle:
                data = handle.read()
            return URLFetcherResponse(url, data, {"Content-Type": sniff(data) or "application/octet-stream"})

    return StoreURLFetcher(backend(), _file_key())


# --- maintenance ----------------------------------------------------------------------------------

def encrypt_existing(report=None) -> tuple[int, int]:
    """Encrypt the files that older versions left in the clear; return (encrypted, already encrypted).

    Idempotent: a file that already carries the header is left alone. A plaintext file is encrypted
    only when its content matches its name (SHA-256); one that does not is reported and left as it is.
    """
    target, key = backend(), _file_key()
    converted = kept = 0
    for digest in list(target.digests()):
        with target.open(digest) as source:
            head = source.read(len(MAGIC))
        if head == MAGIC:
            kept += 1
            continue
        converted += _rewrite(target, digest, report, key)
    return converted, kept


def _rewrite(target, digest: str, report=None, key: bytes | None = None) -> int:
    """Read a stored file (its SHA-256 checked) and put it back encrypted under the current key; 1 if done.

    Under the same digest: the content was just checked against it. A file that cannot be read is
    reported and left as it is (0).
    """
    writer = Writer(target, max_bytes=1 << 62)
    try:
        with open_stored(digest, store=target, key=key) as plain:
            while chunk := plain.read(1 << 20):
                writer.write(chunk)
        writer.commit(replace=True)
        return 1
    except StoredFileUnreadable as error:
        if report:
            report(f"skipped {digest}: {error}")
        return 0
    finally:
        writer.discard()


def _written_by(target, digest: str) -> bytes | None:
    """The key id in a stored file's header, or None for a plaintext file of an older version."""
    with target.open(digest) as source:
        head = _read_exact(source, HEADER.size)
    if head[:4] != MAGIC or len(head) < HEADER.size:
        return None
    return HEADER.unpack(head)[2]


def count_under_old_keys() -> int:
    """How many stored files an old data key wrote (a rotation re-encrypts them)."""
    target, current = backend(), key_id(_file_key())
    return sum(1 for digest in target.digests()
               if (written := _written_by(target, digest)) is not None and written != current)


def reencrypt_under_current_key(report=None) -> int:
    """Re-encrypt every stored file an old data key wrote under the current one; returns how many.

    Each file is read with the key that wrote it (its SHA-256 checked), written anew and put under the
    same address; a file already under the current key is left alone, so a stopped run is resumed.
    """
    target, current = backend(), key_id(_file_key())
    done = 0
    for digest in list(target.digests()):
        written = _written_by(target, digest)
        if written is None or written == current:
            continue
        done += _rewrite(target, digest, report)
    return done
