"""A branch manager reads the statistics, changes the period and downloads the Excel; HQ filters by branch."""
import io
import os
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login
from tests.requests.test_statistics import data  # noqa: F401  (the hand-counted rows)

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        # caret="initial": hiding the caret injects a <style>, which the page's CSP refuses.
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True, caret="initial")


def cells(page: Page, figure: str, first: str) -> list[str]:
    row = page.locator(f"#figure-{figure}-table tr", has=page.locator("th", has_text=first)).first
    return [text.strip() for text in row.locator("th, td").all_inner_texts()]


def test_branch_manager_changes_the_period_and_downloads_the_excel(page: Page, data, viewport):  # noqa: F811
    login(page, "manager")
    page.get_by_role("link", name="统计", exact=True).click()
    expect(page.locator("h1")).to_contain_text("业务统计")
    expect(page.locator("#figure-openings_by_branch-table tfoot")).to_contain_text("3")
    assert cells(page, "openings_by_branch", "北京朝阳门营业部") == ["北京朝阳门营业部", "2", "1", "3"]
    expect(page.locator("#chart-openings_daily circle.data-point")).to_have_count(60)
    shot(page, "statistics-manager", viewport)

    # A period that ends before it starts is refused next to the field; what was typed stays.
    page.fill("#start", str(data["d1"]))
    page.fill("#end", str(data["d2"]))
    page.get_by_role("button", name="统计", exact=True).click()
    expect(page.locator("#field-end .field-error")).to_have_text("结束日期不能早于开始日期")
    expect(page.locator("#start")).to_have_value(str(data["d1"]))
    shot(page, "statistics-bad-period", viewport)

    page.fill("#start", str(data["d2"]))
    page.fill("#end", str(data["d2"]))
    page.get_by_role("button", name="统计", exact=True).click()
    expect(page.locator("#field-end .field-error")).to_have_count(0)
    expect(page.locator("#chart-openings_daily circle.data-point")).to_have_count(2)
    assert cells(page, "openings_by_branch", "北京朝阳门营业部") == ["北京朝阳门营业部", "0", "1", "1"]
    assert f"start={data['d2']}" in page.url and f"end={data['d2']}" in page.url

    with page.expect_download() as download:
        page.locator("#export-all").click()
    with open(download.value.path(), "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()))
    rows = list(book["各营业部开户（按开户方式）"].iter_rows(values_only=True))
    assert ("北京朝阳门营业部", 0, 1, 1) in rows
    assert ("统计期", f"{data['d2']} 至 {data['d2']}（北京时间，含首尾）", None, None) in rows


def test_hq_administrator_filters_by_branch(page: Page, data, viewport):  # noqa: F811
    login(page, "admin")
    page.get_by_role("link", name="统计", exact=True).click()
    assert cells(page, "openings_by_branch", "上海浦东营业部") == ["上海浦东营业部", "0", "2", "2"]
    expect(page.locator("#chart-openings_by_branch rect.data-point")).to_have_count(4)
    shot(page, "statistics-hq", viewport)
    page.select_option("#branch", label="上海浦东营业部")
    page.get_by_role("button", name="统计", exact=True).click()
    expect(page.locator("h1 .scope")).to_have_text("（上海浦东营业部）")
    expect(page.locator("#chart-openings_by_branch rect.data-point")).to_have_count(2)
    expect(page.locator("#figure-visit_pass_rate-table")).not_to_contain_text("北京朝阳门营业部")
    assert cells(page, "visit_pass_rate", "上海浦东营业部")[-1] == "0.0%"
    assert "branch=0201" in page.url
    shot(page, "statistics-hq-branch", viewport)
    # The default period stays the last 30 days up to today.
    expect(page.locator("#start")).to_have_value(str(data["today"] - timedelta(days=29)))
