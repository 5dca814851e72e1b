"""Changes at the counter in a real browser: an ordinary change with its slip, a key change held by a link."""
import io
import os
import time

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.customers.models import Customer
from blueprints.home.demo import DEMO_PASSWORD
from core import jobs, outbox
from core.extensions import db
from core.storage import LocalStore
from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.lifecycle import activate_customer

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))


@pytest.fixture
def customer_no(app, auth, file_store):
    auth.login()
    return activate_customer(app, auth)


# Approval checks the reviewer's password (scrypt) and renders the confirmation slip in the same request;
# on a loaded machine that takes longer than the default wait (slips move to background jobs later).
APPROVAL_TIMEOUT_MS = 20_000


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


def _approve_on_this_terminal(page: Page) -> None:
    page.fill("#reviewer_username", "reviewer")
    page.fill("#reviewer_password", DEMO_PASSWORD)
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="确认复核").click()


def test_an_ordinary_change_is_compared_reviewed_on_the_same_terminal_and_its_slip_downloaded(
        page: Page, app, customer_no, viewport):
    login(page)
    page.goto(f"/customers/{customer_no}")
    page.locator("#start-ordinary-change").click()
    page.fill("#mobile", "139123")
    page.get_by_role("button", name="查看修改对比").click()
    expect(page.locator("#field-mobile .field-error")).to_be_visible()
    expect(page.locator("#mobile")).to_be_focused()  # the refusal has settled (see below)
    page.fill("#mobile", "13912345678")
    page.fill("#postcode", "200120")
    page.get_by_role("button", name="查看修改对比").click()
    comparison = page.locator("#change-comparison")
    expect(comparison).to_contain_text("139****5678")
    expect(comparison).to_contain_text("200120")
    _shot(page, "change-comparison", viewport)

    # Back to edit keeps what was typed.
    page.get_by_role("button", name="返回修改").click()
    expect(page.locator("#postcode")).to_have_value("200120")
    page.get_by_role("button", name="查看修改对比").click()
    page.locator("#confirm-change").dblclick()  # a double click makes one change
    expect(page.locator("#change-status")).to_have_text("待复核")
    reference = page.url.rsplit("/", 1)[1]

    page.wait_for_load_state("load")
    page.fill("#reviewer_username", "clerk")
    page.fill("#reviewer_password", DEMO_PASSWORD)
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="确认复核").click()
    expect(page.locator("#field-reviewer_username .field-error")).to_contain_text("只有复核岗")
    # Once the refusal has settled the page puts the cursor in the first field in error; typing before
    # that would see the cursor move under it (the password landed after the user name).
    expect(page.locator("#reviewer_username")).to_be_focused()
    _approve_on_this_terminal(page)
    expect(page.locator("#change-status")).to_have_text("已生效，报送中", timeout=APPROVAL_TIMEOUT_MS)
    expect(page.locator(".who")).to_contain_text("王柜员")  # the session stays the clerk's
    expect(page.locator("#change-messages")).to_contain_text("未发送")

    with app.app_context():
        outbox.run_once()
    expect(page.locator("#change-messages")).to_contain_text("处理成功", timeout=6000)  # polled while syncing
    _shot(page, "change-applied", viewport)

    with page.expect_download() as download:
        page.locator("#download-slip").click()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(open(download.value.path(), "rb").read())).pages)
    assert "客户普通资料修改确认单" in text and reference in text and "139****5678" in text

    page.goto(f"/customers/{customer_no}")
    expect(page.locator("#change-history")).to_contain_text(reference)
    expect(page.locator("#customer-profile")).to_contain_text("139****5678")
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        assert customer.profile.mobile == "13912345678" and customer.profile.postcode == "200120"


def _name_change(page: Page, scan) -> None:
    page.check("input[name=element][value=name]")
    expect(page.locator("#field-id_number")).to_be_hidden()  # only the chosen element's fields show
    page.fill("#name", "刘晓")
    page.fill("#valid_from", "2026-11-01")
    page.fill("#valid_to", "2046-11-01")
    page.set_input_files("#certificate", str(scan))
    page.get_by_role("button", name="查看修改对比").click()


def test_a_key_change_held_by_an_unconfirmed_link_goes_through_once_the_link_is_confirmed(
        page: Page, app, customer_no, viewport, tmp_path):
    scan = tmp_path / "certificate.png"
    scan.write_bytes(factories.scan_png())
    with app.app_context():
        unified = db.session.scalar(select(Customer.unified_account_no).where(Customer.customer_no == customer_no))
        db.session.rollback()  # the simulator writes through its own connection
        held = app.extensions["china_clearing"].mark_link_unconfirmed(unified, "SH")
    login(page)
    page.goto(f"/customers/{customer_no}")
    page.locator("#start-key-change").click()
    expect(page.locator("#csdc-blocking")).to_contain_text(held[0])
    _name_change(page, scan)
    expect(page.locator("#field-systems .field-error")).to_contain_text(held[0])
    _shot(page, "key-change-blocked", viewport)

    page.locator("#start-link-confirmation").first.click()
    page.check(f"input[name=confirm][value={held[0]}]")
    page.get_by_role("button", name="提交同机复核").click()
    expect(page.locator("#change-status")).to_have_text("待复核")
    page.wait_for_load_state("load")
    _approve_on_this_terminal(page)
    expect(page.locator("#change-status")).to_have_text("已生效，报送中", timeout=APPROVAL_TIMEOUT_MS)
    with app.app_context():
        outbox.run_once()
    page.reload()
    expect(page.locator("#change-status")).to_have_text("已完成")

    page.goto(f"/changes/new/{customer_no}/key")
    expect(page.locator("#csdc-blocking")).to_have_count(0)
    _name_change(page, scan)
    expect(page.locator("#change-comparison")).to_contain_text("刘晓")
    expect(page.locator("#change-comparison")).to_contain_text("2046-11-01")
    page.locator("#confirm-change").click()
    expect(page.locator("#change-status")).to_have_text("待复核")
    page.wait_for_load_state("load")
    _approve_on_this_terminal(page)
    expect(page.locator("#change-status")).to_have_text("已生效，报送中", timeout=APPROVAL_TIMEOUT_MS)
    with app.app_context():
        outbox.run_once()
    page.goto(f"/customers/{customer_no}")
    expect(page.locator("#customer-detail h1")).to_contain_text("刘晓")
    expect(page.locator("#id-documents")).to_contain_text("2046-11-01")
    expect(page.locator("#id-documents")).to_contain_text("已被新证件替代")
    _shot(page, "customer-after-key-change", viewport)


def test_a_session_that_ends_while_a_change_is_typed_keeps_what_was_typed(page: Page, customer_no, console_errors):
    login(page)
    entry_url = f"/changes/new/{customer_no}/ordinary"
    page.goto(entry_url)
    page.fill("#mobile", "13912345678")
    page.fill("#employer", "上海某咨询有限公司")
    # Another tab of the same browser logs out: the same cookies post the logout form.
    token = page.locator("form[action='/auth/logout'] input[name=csrf_token]").input_value()
    assert page.context.request.post("/auth/logout", form={"csrf_token": token}, max_redirects=0).status in (302, 303)

    page.get_by_role("button", name="查看修改对比").click()
    expect(page.locator("#network-error")).to_contain_text("登录已失效，请重新登录")
    console_errors.clear()  # htmx logs the 401 this test provokes
    page.locator("#network-error a", has_text="重新登录").click()
    page.fill("#username", "clerk")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#restored-unsaved")).to_be_visible()
    expect(page.locator("#employer")).to_have_value("上海某咨询有限公司")
    page.get_by_role("button", name="查看修改对比").click()
    expect(page.locator("#change-comparison")).to_contain_text("上海某咨询有限公司")


def test_a_slip_that_could_not_be_printed_is_printed_again_from_the_change_page(
        page: Page, app, auth, customer_no, viewport, monkeypatch):
    from blueprints.changes import jobs as change_jobs
    from core.pdf.renderer import DossierUnavailable
    from tests.changes.test_change_requests import NEW_MOBILE, _review, _submit_ordinary

    real_render = change_jobs.pool.render

    def unavailable(_request):
        raise DossierUnavailable("档案生成服务暂不可用")

    monkeypatch.setattr(change_jobs.pool, "render", unavailable)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    assert _review(auth, reference).status_code == 303
    login(page)
    page.goto(f"/changes/{reference}")
    slip = page.locator("#change-slip")
    expect(slip).to_contain_text("打印确认单失败：档案生成服务暂不可用", timeout=APPROVAL_TIMEOUT_MS)
    _shot(page, "change-slip-failed", viewport)

    def slow(request):  # the page polls the job a few times while it runs
        time.sleep(3)
        return real_render(request)

    monkeypatch.setattr(change_jobs.pool, "render", slow)
    page.locator("#retry-slip").dblclick()  # a double click prints it once
    expect(page.locator("#flash")).to_contain_text("已重新提交打印确认单")
    expect(page.locator("#download-slip")).to_be_visible(timeout=APPROVAL_TIMEOUT_MS)  # the page follows the job
    expect(page.locator("#retry-slip")).to_have_count(0)
    _shot(page, "change-slip-retried", viewport)
    with page.expect_download() as download:
        page.locator("#download-slip").click()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(open(download.value.path(), "rb").read())).pages)
    assert "客户普通资料修改确认单" in text and reference in text
    with app.app_context():
        slip_jobs = db.session.scalars(select(jobs.Job).where(jobs.Job.kind == change_jobs.SLIP)).all()
        assert [(job.status, job.attempts) for job in slip_jobs] == [("done", 1)]
