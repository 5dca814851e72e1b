"""The reviewer's inbox in a browser: filter, take, check the witness record, return; the clerk's page updates."""
import base64
import io
import math
import os
import re
import struct
import zlib

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.home.demo import DEMO_PASSWORD
from blueprints.review.models import ReviewDecision
from core import outbox
from core.extensions import db
from core.roles import Role
from core.storage import LocalStore
from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.requests.helpers import add_staff
from tests.requests.test_review import SECOND_ID, customer, submit, submit_witness

pytestmark = pytest.mark.e2e
SCREENSHOTS = os.environ.get("REVIEW_SCREENSHOTS")  # a folder: save the review page there for a look


def png(width: int, height: int, pixel) -> bytes:
    """A truecolour PNG whose pixel (x, y) is pixel(x, y) -> (r, g, b)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def photo() -> bytes:
    return png(160, 120, lambda x, y: (90 + x // 2, 120 + y // 2, 160))


def signature() -> str:
    def ink(x, y):
        on_line = abs(y - (50 + 25 * math.sin(x / 18))) < 2.5
        return (20, 20, 20) if on_line and 20 < x < 280 else (255, 255, 255)
    return "data:image/png;base64," + base64.b64encode(png(300, 100, ink)).decode()


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))


def test_reviewer_filters_takes_checks_the_witness_record_and_returns_it(page: Page, new_context, app, file_store,
                                                                          viewport):
    add_staff(app, "reviewer2", Role.REVIEWER, "0101", "陈复核")
    _clerk, onsite = submit(app, **customer(SECOND_ID, "赵小红"))
    _witness, reference = submit_witness(app, photo=(io.BytesIO(photo()), "photo.png"), signature=signature())

    login(page, "reviewer")
    page.goto("/review/")
    expect(page.locator("#review-queue-rows tbody tr")).to_have_count(2)
    page.select_option("#channel", "witness")
    expect(page.locator("#review-queue-rows tbody tr")).to_have_count(1)
    row = page.locator(f'tr[data-reference="{reference}"]')
    expect(row).to_contain_text("见证开户")
    expect(row).to_contain_text("见证人员")
    assert "channel=witness" in page.url
    row.get_by_role("button", name="认领").click()

    expect(page.locator("#claim-status")).to_contain_text("您已认领")
    record = page.locator(f'[data-witness-record="{reference}"]')
    expect(record).to_contain_text("赵见证（开户见证人员）")
    expect(record).to_contain_text("证券从业资格 S0101200002")
    expect(record).to_contain_text("北京市朝阳区光华路1号")
    for kind in ("photo", "signature"):
        image = record.locator(f".witness-{kind} img")
        expect(image).to_be_visible()
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"review-witness-{viewport[0]}.png"), full_page=True)
        record.screenshot(path=os.path.join(SCREENSHOTS, f"review-witness-record-{viewport[0]}.png"))

    # A second reviewer sees who holds it, and cannot decide.
    other = new_context().new_page()
    login(other, "reviewer2")
    other.goto("/review/")
    expect(other.locator(f'tr[data-reference="{reference}"]')).to_contain_text("李复核")
    expect(other.locator(f'tr[data-reference="{onsite}"]')).to_contain_text("未认领")
    other.goto(f"/review/{reference}")
    expect(other.locator("#claim-status")).to_contain_text("李复核 已于")
    expect(other.locator("#approve-form")).to_have_count(0)

    # The holder returns it to the witness step, numbered as on the witness channel.
    page.fill("#reason", "现场合影中客户面部不清晰，请重新拍摄")
    page.select_option("#return_step", label="10. 见证与签名")
    page.get_by_role("button", name="退回").click()
    expect(page.locator("#flash")).to_contain_text("已退回见证人员")
    with app.app_context():
        decision = db.session.scalar(select(ReviewDecision).order_by(ReviewDecision.id.desc()))
        assert (decision.decision, decision.return_step) == ("reject", "witness")


def test_the_clerks_page_shows_the_accounts_as_they_open(page: Page, app):
    _auth, reference = submit(app)
    login(page, "clerk")
    page.goto(f"/opening/{reference}/submitted")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="同机复核").click()
    page.fill("#reviewer_username", "reviewer")
    page.fill("#reviewer_password", DEMO_PASSWORD)
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="确认复核").click()

    progress = page.locator("#accounts-progress")
    expect(progress.locator("#accounts-state")).to_contain_text("开立中")
    expect(progress.locator("#fund-account strong")).to_have_text(re.compile(r"^0101\d{8}$"))
    expect(progress.locator("#sub-accounts-pending")).to_be_visible()
    page.evaluate("window.__noReload = true")

    with app.app_context():
        assert outbox.run_once().delivered == 2

    # Without a reload: the sub-accounts appear and the block stops asking.
    expect(progress.locator("tr[data-market=SH]")).to_be_visible(timeout=10_000)
    expect(progress.locator("tr[data-market=SZ]")).to_be_visible()
    expect(progress.locator("#accounts-state")).to_have_text("已全部开立")
    expect(progress).to_have_attribute("data-polling", "no")
    expect(page.locator("#application-status")).to_have_text("待回访")  # the page's badge follows
    assert page.evaluate("window.__noReload === true")
    assert factories.CUSTOMER_ID not in page.url
