"""An archivist finds a customer, downloads the dossier, and the lending register shows it."""
import io
import zipfile

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from core.storage import LocalStore
from core.timeutil import business_today
from tests.conftest import Auth
from tests.e2e.test_opening_wizard import login
from tests.lifecycle import activate_customer

pytestmark = pytest.mark.e2e


@pytest.fixture
def customer_no(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    clerk = Auth(app.test_client())
    clerk.login()
    return activate_customer(app, clerk, name="欧阳䶮")


def test_archivist_downloads_a_dossier_and_the_register_shows_it(page: Page, customer_no, new_context):
    login(page, "archivist")
    page.goto("/archive/")
    page.fill("#name", "欧阳")
    page.get_by_role("button", name="按姓名查询", exact=True).click()
    page.locator("#archive-results tr", has_text=customer_no).get_by_role("link").first.click()

    page.select_option("#purpose", index=1)
    page.get_by_role("button", name="登记并查阅").click()
    page.get_by_role("button", name="生成新版本").click()
    # The job worker renders it; the page says so, then shows the new version without a reload.
    expect(page.locator(".job-done")).to_contain_text("已生成档案第 1 版", timeout=30_000)
    expect(page.locator("#dossier-list tr[data-version='1']")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载").first.click()
    data = open(download_info.value.path(), "rb").read()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "欧阳䶮" in text and "开户申请表" in text

    manager = new_context().new_page()
    login(manager, "manager")
    manager.goto("/archive/register")
    rows = manager.locator("#lending-list tbody tr", has_text=customer_no)
    expect(rows.filter(has_text="下载")).to_have_count(1)
    expect(rows.filter(has_text="查阅").first).to_be_visible()


def test_archivist_exports_the_days_dossiers_through_the_job_worker(page: Page, customer_no):
    login(page, "archivist")
    page.goto("/archive/exports")
    today = business_today().isoformat()
    page.fill("#date_from", today)
    page.fill("#date_to", today)
    page.select_option("#purpose", index=1)
    page.fill("#detail", "年度检查")
    page.locator("#export-form").get_by_role("button").click()
    expect(page.locator("#archive-export h1")).to_contain_text("档案导出")
    download = page.locator("#export-download")
    expect(download).to_be_visible(timeout=60_000)  # the worker rendered the dossiers and built the zip
    with page.expect_download() as download_info:
        download.click()
    with zipfile.ZipFile(download_info.value.path()) as archive:
        names = archive.namelist()
    assert any(customer_no in name for name in names)
    assert all(archive_pdf.endswith(".pdf") for archive_pdf in names)
