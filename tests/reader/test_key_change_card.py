"""The key-information change reads the new document on the counter's reader, as the opening does."""
import re

import pytest

from core.storage import LocalStore
from tests.lifecycle import activate_customer
from tests.reader.support import pair_terminal
from tests.reader.test_reader_api import _reader, device, post  # noqa: F401  (device is a fixture)


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))


def test_the_card_fills_the_key_change_form_with_the_new_document(app, auth, client, device, file_store):
    auth.login()
    customer_no = activate_customer(app, auth, name="刘䶮")
    pair_terminal(auth, _reader(app, device))
    waiting = auth.get(f"/changes/new/{customer_no}/key/card", htmx=True)
    body = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and "正在等待读卡" in body
    poll_url = re.search(r'hx-get="([^"]+since=[^"]+)"', body).group(1).replace("&amp;", "&")

    assert post(client, *device).status_code == 201  # the card of 刘晓明: another name than on record
    filled = auth.get(poll_url, htmx=True)

    assert filled.headers["HX-Retarget"] == "#key-change-form"
    page = filled.get_data(as_text=True)
    assert "已从读卡器" in page and 'value="刘晓明"' in page
    assert re.search(r'value="name"[^>]*checked|checked[^>]*value="name"', page)


def test_without_a_paired_reader_the_clerk_is_told_to_pair_one_or_type(app, auth, file_store):
    auth.login()
    customer_no = activate_customer(app, auth)
    body = auth.get(f"/changes/new/{customer_no}/key/card", htmx=True).get_data(as_text=True)
    assert "本机未绑定读卡器" in body and "/reader/terminal" in body
