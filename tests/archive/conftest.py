"""An active customer with a full record, for archive tests."""
import pytest

from core.storage import LocalStore
from tests.lifecycle import activate_customer


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    return tmp_path / "files"


@pytest.fixture
def active_customer(app, auth, file_store):
    auth.login()
    return activate_customer(app, auth)
