"""The file store on both back ends: encrypted at rest, checked on read, streamed, served, fetched by the PDF renderer."""
import hashlib
import os
import stat

import pytest

from core import crypto, files, storage
from tests.files.conftest import raw_blobs, s3_client

TEXT = "证件号码 110105197903045385，手机 13987654321".encode() * 50


def stored(data: bytes = TEXT, mime: str = "application/pdf") -> files.StoredFile:
    return files.store(b"%PDF-1.7\n" + data if mime == "application/pdf" else data, {mime}, 10**8)


def test_a_file_reads_back_as_stored_and_identical_content_is_kept_once(app, store):
    with app.app_context():
        first, second = stored(), stored()
        assert first == second and first.sha256 == hashlib.sha256(b"%PDF-1.7\n" + TEXT).hexdigest()
        assert files.read(first.sha256) == b"%PDF-1.7\n" + TEXT
        assert files.exists(first.sha256) and not files.exists("0" * 64) and not files.exists("../etc/passwd")
        assert list(store.digests()) == [first.sha256]


def test_what_the_back_end_holds_is_encrypted_with_a_header(app, store):
    with app.app_context():
        kept = stored()
    [blob] = raw_blobs(store).values()
    assert blob[:4] == files.MAGIC and blob[4] == files.VERSION
    assert "110105197903045385".encode() not in blob and "13987654321".encode() not in blob
    assert len(blob) == files.HEADER.size + kept.size + files.TAG  # one segment


def test_a_large_file_streams_in_segments_and_reads_back(app, store):
    data = os.urandom(3 * files.SEGMENT + 12345)
    with app.app_context():
        with files.writing(max_bytes=len(data)) as out:
            for start in range(0, len(data), 700_000):
                out.write(data[start:start + 700_000])
            kept = out.commit()
        assert kept.sha256 == hashlib.sha256(data).hexdigest() and kept.size == len(data)
        with files.open_stored(kept.sha256) as handle:
            assert handle.read(10) == data[:10]
            assert handle.read() == data[10:]
    [blob] = raw_blobs(store).values()
    assert len(blob) == files.HEADER.size + len(data) + 4 * files.TAG


def test_a_writer_past_its_limit_keeps_nothing(app, store):
    with app.app_context():
        with pytest.raises(files.FileRejected, match="文件过大"):
            with files.writing(max_bytes=10) as out:
                out.write(b"x" * 11)
    assert list(store.digests()) == []


@pytest.mark.parametrize("damage", ["flip", "truncate_segment", "drop_last_segment", "append"])
def test_an_altered_file_is_refused_on_read(app, store, damage):
    data = os.urandom(2 * files.SEGMENT + 10)
    with app.app_context():
        with files.writing(max_bytes=len(data)) as out:
            out.write(data)
            kept = out.commit()
    [blob] = raw_blobs(store).values()
    segment = files.SEGMENT + files.TAG
    altered = {
        "flip": blob[:100] + bytes([blob[100] ^ 1]) + blob[101:],
        "truncate_segment": blob[:-5],
        "drop_last_segment": blob[:files.HEADER.size + 2 * segment],  # ends on a segment boundary
        "append": blob + blob[files.HEADER.size:files.HEADER.size + segment],
    }[damage]
    store.put(kept.sha256, altered, replace=True)
    with app.app_context(), pytest.raises(files.StoredFileUnreadable):
        files.read(kept.sha256)


def test_a_file_kept_under_another_files_address_is_refused(app, store):
    with app.app_context():
        one, other = stored(b"one"), stored(b"other")
        blobs = raw_blobs(store)
        store.put(other.sha256, blobs[one.sha256], replace=True)
        with pytest.raises(files.StoredFileUnreadable, match="SHA-256"):
            files.read(other.sha256)


def test_a_file_written_under_another_key_names_its_key_id(app, store):
    with app.app_context():
        digest = hashlib.sha256(b"%PDF-x").hexdigest()
        store.put(digest, files.encrypt(b"%PDF-x", key=b"k" * 32))
        with pytest.raises(files.StoredFileUnreadable, match="another key"):
            files.read(digest)


def test_a_missing_file_says_so(app, store):
    with app.app_context(), pytest.raises(files.StoredFileMissing):
        files.read("a" * 64)


def test_a_local_copy_is_private_and_removed_afterwards(app, store):
    with app.app_context():
        kept = stored()
        with files.local_copy(kept.sha256) as path:
            assert open(path, "rb").read() == b"%PDF-1.7\n" + TEXT
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert not os.path.exists(path)


def test_plaintext_files_of_older_versions_are_read_then_encrypted_once(app, store):
    legacy = b"%PDF-1.4 left by an older version " + TEXT
    digest = hashlib.sha256(legacy).hexdigest()
    store.put(digest, legacy)  # as older versions wrote them: in the clear
    with app.app_context():
        assert files.read(digest) == legacy
        store.put("b" * 64, b"%PDF- not what its name says")
        assert files.encrypt_existing() == (1, 0)
        assert raw_blobs(store)[digest][:4] == files.MAGIC and files.read(digest) == legacy
        assert files.encrypt_existing() == (0, 1)  # the mismatching one is reported, never counted or changed
        assert raw_blobs(store)["b" * 64] == b"%PDF- not what its name says"


def test_an_inline_file_is_named_by_its_detected_type_and_never_cached(app, store):
    png = _png()
    with app.test_request_context():
        kept = files.store(png, {"image/png"}, 10**6)
        inline = files.send(kept.sha256, "image/jpeg", "身份证正面.jpg")
        attachment = files.send(kept.sha256, "image/png", "客户来信.jpeg", as_attachment=True)
        bare = files.send(kept.sha256, None, "acknowledgement-7")
    assert inline.mimetype == "image/png" and b"".join(inline.response) == png
    assert "filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81%E6%AD%A3%E9%9D%A2.png" in inline.headers["Content-Disposition"]
    assert inline.headers["Content-Disposition"].startswith("inline") and inline.headers["Cache-Control"] == "no-store"
    assert attachment.headers["Content-Disposition"].startswith("attachment") and "%E4%BF%A1.jpeg" in \
        attachment.headers["Content-Disposition"]
    assert bare.headers["Content-Disposition"] == "inline; filename=acknowledgement-7.png"


def test_the_pdf_fetcher_reads_the_store_and_nothing_else(app, store):
    with app.app_context():
        kept = files.store(_png(), {"image/png"}, 10**6)
        fetcher = files.url_fetcher()
    response = fetcher.fetch(files.url_of(kept.sha256))  # outside the app context, as in a render thread
    assert response.read() == _png() and response.content_type == "image/png"
    with pytest.raises(files.StoredFileMissing):
        fetcher.fetch(files.url_of("c" * 64))
    with pytest.raises(ValueError, match="disallowed protocol"):
        fetcher.fetch("file:///etc/passwd")


def test_a_dossier_image_missing_from_the_store_stops_the_render(app, store):
    from core.pdf import renderer

    from datetime import datetime, timezone
    with app.app_context():
        fetcher = files.url_fetcher()
    html = f'<p>扫描件</p><img src="{files.url_of("d" * 64)}">'
    with pytest.raises(renderer.DossierResourceMissing):
        renderer.render_pdf(html, base_url=f"{files.URL_SCHEME}:", url_fetcher=fetcher, attachments=[], title="t",
                            author="a", created=datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_local_files_are_0600_in_0700_folders(app, tmp_path, monkeypatch):
    local = storage.LocalStore(str(tmp_path / "files"))
    monkeypatch.setitem(app.extensions, "file_store", local)
    old = os.umask(0o022)
    try:
        with app.app_context():
            kept = stored()
            with files.writing(max_bytes=100) as out:
                out.write(b"PK\x03\x04 streamed")
                streamed = out.commit()
    finally:
        os.umask(old)
    for folder, dirs, names in os.walk(tmp_path / "files"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in names:
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name
    assert sorted(local.digests()) == sorted([kept.sha256, streamed.sha256])


def test_the_s3_back_end_is_chosen_by_configuration_with_the_standard_credentials(s3_endpoint, monkeypatch):
    s3_client(s3_endpoint).create_bucket(Bucket="kyc-configured")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    built = storage.build_store({"FILE_STORE_BACKEND": "s3", "S3_BUCKET": "kyc-configured",
                                 "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": "us-east-1", "FILE_STORE": "unused"})
    assert isinstance(built, storage.S3Store)
    built.put("e" * 64, b"blob")
    assert built.exists("e" * 64) and built.open("e" * 64).read() == b"blob" and list(built.digests()) == ["e" * 64]
    assert isinstance(storage.build_store({"FILE_STORE": "x"}), storage.LocalStore)
    with pytest.raises(ValueError):
        storage.build_store({"FILE_STORE_BACKEND": "ftp", "FILE_STORE": "x"})


def test_the_file_key_is_derived_from_the_data_key(app):
    with app.app_context():
        assert files._file_key() == crypto.derived_key(b"kyc-file-encryption")


def _png() -> bytes:
    from tests.factories import scan_png

    return scan_png(4, 4)


def test_the_encrypt_existing_command_converts_and_is_idempotent(app, store):
    legacy = b"%PDF-1.4 plaintext " + TEXT
    store.put(hashlib.sha256(legacy).hexdigest(), legacy)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["files", "encrypt-existing"])
    assert first.exit_code == 0 and "encrypted 1 file(s); 0 already encrypted" in first.output
    again = runner.invoke(args=["files", "encrypt-existing"])
    assert "encrypted 0 file(s); 1 already encrypted" in again.output
    assert all(blob[:4] == files.MAGIC for blob in raw_blobs(store).values())
