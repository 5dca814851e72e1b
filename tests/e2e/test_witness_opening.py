"""Witness opening on a tablet, with the ID card read by the reader agent from a replay file."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.reader import services as reader_services
from core.extensions import db
from core.storage import LocalStore
from tests import factories
from tests.e2e.test_opening_wizard import login, save, sign, walk_from_contact
from tests.reader_agent.fixtures import PHOTO, resident_block

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")


@pytest.fixture
def paired_reader(app, page, live_server, tmp_path, monkeypatch):
    """A reader paired with the demo branch and with the page's tablet, and a replay file holding the customer's card."""
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    with app.app_context():
        admin = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        witness = db.session.scalar(select(Staff).where(Staff.username == "witness"))
        device, secret = reader_services.pair_device(witness.branch_id, "平板读卡器", admin)
        _terminal, token = reader_services.pair_terminal(None, device, "见证平板1号", witness)
        db.session.commit()
        device_id = device.device_id
    page.context.add_cookies([{"name": reader_services.TERMINAL_COOKIE, "value": token, "url": live_server,
                               "httpOnly": True, "sameSite": "Lax"}])
    identity = factories.identity()
    block = resident_block(name=identity["name"], sex="1", birth=identity["birth_date"].replace("-", ""),
                           address=identity["address"], id_number=identity["id_number"],
                           authority=identity["authority"], valid_from="20190520", valid_to="长期")
    replay = tmp_path / "card.jsonl"
    replay.write_text(json.dumps({"delay": 1.0, "hold": 30.0, "text": base64.b64encode(block).decode(),
                                  "photo": base64.b64encode(PHOTO).decode(), "chip_serial": "0123456789ABCDEF"}) + "\n")
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret)
    return device_id, secret_file, replay


@pytest.mark.parametrize("viewport", ["tablet", "tablet_landscape"], indirect=True)
def test_witness_opens_an_account_on_a_tablet_with_the_card_read_by_the_agent(
        page: Page, live_server, paired_reader, tmp_path):
    device_id, secret_file, replay = paired_reader
    login(page, "witness")
    page.get_by_role("link", name="新建见证开户").click()
    expect(page.locator("input[name=channel][value=witness]")).to_be_checked()
    save(page, "identity")

    page.get_by_role("button", name="读卡").tap()
    expect(page.locator("#card-status")).to_contain_text("正在等待读卡")
    agent = subprocess.Popen(
        [sys.executable, "-m", "reader_agent", "run", "--server", live_server, "--device", device_id,
         "--secret-file", str(secret_file), "--replay", str(replay), "--interval", "0.5"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        expect(page.locator("#card-filled")).to_be_visible(timeout=20_000)
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    expect(page.locator("#name")).to_have_value(factories.identity()["name"])
    expect(page.locator("#id_number")).to_have_value(factories.CUSTOMER_ID)
    expect(page.locator("#valid_long_term")).to_be_checked()
    save(page, "contact")
    walk_from_contact(page, then="witness")

    # Two staff met the customer; the demo witness is qualified, regular and trained.
    page.locator("#field-present label", has_text="赵见证").locator("input").check()
    page.locator("#field-present label", has_text="王柜员").locator("input").check()
    page.check("input[name=mode][value=in_person]")
    page.select_option("#witness_id", label="赵见证（开户见证人员）")
    page.fill("#place", "北京市朝阳区光华路1号 客户办公室")
    page.check("#work_id_shown")
    page.check("#photo_consent")
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    page.set_input_files("#photo", str(photo))
    sign(page)
    assert page.evaluate("document.querySelector('input[data-signature-input]').value").startswith("data:image/png")
    save(page, "summary")

    page.get_by_role("button", name="提交复核").tap()
    expect(page.locator("#submitted h1")).to_have_text("开户申请已提交复核")
