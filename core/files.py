"""Files kept outside the web root under their content hash, with types checked by content."""
import hashlib
import os
from dataclasses import dataclass

from flask import current_app

# Leading bytes of the formats the system accepts, so a renamed file is recognised as what it is.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/amr": (b"#!AMR",),
}


def sniff(data: bytes) -> str | None:
    """The MIME type the content shows, whatever the file is called."""
    for mime, prefixes in SIGNATURES.items():
        if any(data.startswith(prefix) for prefix in prefixes):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":  # ISO media: .m4a call recordings
        return "audio/mp4"
    return None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    mime: str


class FileRejected(Exception):
    """An upload that is not accepted; the message says why, in Chinese."""


def store(data: bytes, allowed: set[str], max_bytes: int) -> StoredFile:
    """Check and keep `data`; identical content is stored once."""
    if not data:
        raise FileRejected("文件为空，请重新选择")
    if len(data) > max_bytes:
        raise FileRejected(f"文件过大（{len(data) // 1024} KB），上限为 {max_bytes // 1024 // 1024} MB")
    mime = sniff(data)
    if mime not in allowed:
        raise FileRejected("文件内容不是允许的格式（按文件内容识别，与文件名无关）")
    digest = hashlib.sha256(data).hexdigest()
    path = path_for(digest)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    return StoredFile(digest, len(data), mime)


def path_for(digest: str) -> str:
    root = current_app.config["FILE_STORE"]
    return os.path.join(root, digest[:2], digest[2:4], digest)
