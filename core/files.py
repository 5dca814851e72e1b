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
    "audio/mpeg": (b"ID3",),
    "audio/amr": (b"#!AMR",),
    "application/zip": (b"PK\x03\x04",),
}


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf", "audio/mpeg": "mp3",
              "audio/wav": "wav", "audio/mp4": "m4a", "audio/amr": "amr", "application/zip": "zip"}


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
        raise FileRejected(f"文件过大（{_size(len(data))}），上限为 {_size(max_bytes)}")
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


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f} MB"
    return f"{max(1, round(count / 1024))} KB"


def path_for(digest: str) -> str:
    root = current_app.config["FILE_STORE"]
    return os.path.join(root, digest[:2], digest[2:4], digest)
