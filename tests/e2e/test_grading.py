"""HQ imports a file with a bad row, fixes it, imports holdings, recomputes grades and reads them on the customer page."""
import os
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from blueprints.grading.models import GradeRule
from core.extensions import db
from core.storage import LocalStore
from tests.e2e.test_opening_wizard import login
from tests.grading.support import DEMO_CUSTOMER, HOLDING_HEADER, PRICE_HEADER, csv_bytes, trading_days

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
DAYS = trading_days(20, date(2026, 11, 30))


@pytest.fixture
def rules_and_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    with app.app_context():
        for grade, precedence, average in (("gold", 30, "1000000"), ("silver", 40, "100000")):
            db.session.add(GradeRule(grade=grade, precedence=precedence, min_average_assets=Decimal(average)))
        db.session.commit()


def shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


def upload(page: Page, kind_label: str, name: str, data: bytes) -> None:
    page.goto("/grading/imports")
    page.select_option("#kind", label=kind_label)
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.get_by_role("button", name="上传并校验").click()


def test_hq_fixes_a_bad_row_imports_and_sees_the_grade(page: Page, rules_and_store, viewport):
    login(page, "admin")
    good = [[PRICE_HEADER[0], PRICE_HEADER[1], PRICE_HEADER[2]]] + [["600000", d.isoformat(), "12.50"] for d in DAYS]
    bad = [row[:] for row in good]
    bad[5][2] = "十二块五"
    upload(page, "证券日行情", "prices.csv", csv_bytes(bad))
    expect(page.locator("#import-status")).to_have_text("有错误行，未导入")
    row = page.locator("#import-errors tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("第 6 行")
    expect(row).to_contain_text("收盘价“十二块五”不是数字")
    expect(page.locator("#import-rejected")).to_contain_text("现有数据没有任何改动")
    shot(page, "grading-import-rejected", viewport)

    upload(page, "证券日行情", "prices.csv", csv_bytes(good))
    expect(page.locator("#import-done")).to_have_text("已导入 20 行。")
    upload(page, "客户持仓", "holdings.csv", csv_bytes([HOLDING_HEADER, [DEMO_CUSTOMER, "", "600000", "100000"]]))
    expect(page.locator("#import-done")).to_have_text("已导入 1 行。")

    page.goto("/grading/rules")
    shot(page, "grading-rules", viewport)
    page.get_by_role("button", name="立即重新计算全部客户级别").click()
    # The job worker recomputes; the rules page shows its progress, then the outcome.
    expect(page.locator(".job-done")).to_contain_text("其中 1 位级别变化", timeout=30_000)

    page.goto(f"/customers/{DEMO_CUSTOMER}")
    expect(page.locator("#customer-grade")).to_contain_text("金卡")
    expect(page.locator("#valued-total")).to_have_text("1,250,000.00")
    history = page.locator("#grade-history tbody tr")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("— → 金卡")
    expect(history).to_contain_text("1,250,000.00")
    page.locator("#grading-panel").scroll_into_view_if_needed()
    shot(page, "grading-customer-panel", viewport)
