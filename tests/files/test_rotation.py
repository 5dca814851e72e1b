"""A key rotation re-encrypts stored files too, on both back ends: read with the old key meanwhile."""
import pytest

from app import create_app
from core import files

PNG_LIKE = b"%PDF-1.7\n" + b"rotation test " * 5000


def _app_on(app, store, **config):
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SECRET_KEY": "test-secret", **config})
    other.extensions["file_store"] = store
    return other


def test_rotation_re_encrypts_stored_files_and_the_new_key_alone_reads_them(app, store):
    with app.app_context():
        stored = files.store(PNG_LIKE, {"application/pdf"}, len(PNG_LIKE))
        before = store.open(stored.sha256).read()
    rotating = _app_on(app, store, DATA_KEY="the-new-data-key", DATA_KEY_PREVIOUS="test-data-key",
                       INDEX_KEY="test-data-key")
    with rotating.app_context():
        assert files.read(stored.sha256) == PNG_LIKE  # the previous key still reads it
        assert files.count_under_old_keys() == 1
        result = rotating.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0 and "stored files: 1 re-encrypted" in result.output
        assert files.count_under_old_keys() == 0
        assert files.reencrypt_under_current_key() == 0  # nothing left: a second run changes nothing
    assert store.open(stored.sha256).read() != before
    with _app_on(app, store, DATA_KEY="the-new-data-key", INDEX_KEY="test-data-key").app_context():
        assert files.read(stored.sha256) == PNG_LIKE
    with app.app_context(), pytest.raises(files.StoredFileUnreadable, match="another key"):
        files.read(stored.sha256)
