"""An active customer with a full record, for archive tests."""
import pytest

from tests.lifecycle import activate_customer


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "FILE_STORE", str(tmp_path / "files"))
    return tmp_path / "files"


@pytest.fixture
def active_customer(app, auth, file_store):
    auth.login()
    return activate_customer(app, auth)
