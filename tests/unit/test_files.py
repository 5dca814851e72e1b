"""File types are judged by content, whatever the file is called."""
import io
import wave

import pytest

from core import files


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


@pytest.mark.parametrize("data, mime", [
    (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"ID3\x04\x00" + b"\x00" * 20, "audio/mpeg"),
    (b"\xff\xfb\x90\x00" + b"\x00" * 20, "audio/mpeg"),   # MPEG-1 layer III, no tag
    (b"\xff\xf3\x90\x00" + b"\x00" * 20, "audio/mpeg"),   # MPEG-2 layer III
    (b"#!AMR\n", "audio/amr"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", None),   # MP4 video is not a call recording
    (b"\xff\xfd\x90\x00", None),                          # MPEG layer II: not a recording format we take
    (b"hello world", None),
    (b"", None),
])
def test_content_decides_the_type(data, mime):
    assert files.sniff(data) == mime


def test_wav_from_the_standard_library_is_recognised():
    assert files.sniff(wav_bytes()) == "audio/wav"


@pytest.mark.parametrize("limit, size, message", [
    (512 * 1024, 600 * 1024, "文件过大（600 KB），上限为 512 KB"),
    (20 * 1024 * 1024, 21 * 1024 * 1024, "文件过大（21.0 MB），上限为 20.0 MB"),
])
def test_oversize_message_names_both_sizes(app, file_store, limit, size, message):
    with app.app_context():
        with pytest.raises(files.FileRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
            files.store(b"ID3" + b"\x00" * (size - 3), allowed={"audio/mpeg"}, max_bytes=limit)


def test_identical_content_is_stored_once_under_its_hash(app, file_store):
    with app.app_context():
        first = files.store(wav_bytes(), allowed={"audio/wav"}, max_bytes=10**6)
        second = files.store(wav_bytes(), allowed={"audio/wav"}, max_bytes=10**6)
        assert first == second
        assert files.read(first.sha256) == wav_bytes()
        assert list(file_store.digests()) == [first.sha256]


def test_a_renamed_text_file_is_refused_with_a_reason(app, file_store):
    with app.app_context():
        with pytest.raises(files.FileRejected, match="文件内容不是允许的格式"):
            files.store(b"not audio at all", allowed={"audio/mpeg"}, max_bytes=10**6)
