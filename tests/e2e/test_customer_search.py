"""The header search box in a browser: type, move with the keyboard, open; no ID or phone in any URL."""
import os

import pytest
from playwright.sync_api import Page, expect

from core.extensions import db
from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.requests.test_customer_search import add_customer

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
ID_NUMBER = factories.make_id("110105", "19800115", "137")
MOBILE = "13912345678"


@pytest.fixture
def customers(app):
    with app.app_context():
        add_customer("C0101300001", "张伟", ID_NUMBER, mobile=MOBILE)
        add_customer("C0101300002", "赵文", factories.make_id("110105", "19820304", "251"))
        add_customer("C0101300003", "曾维", factories.make_id("110105", "19830405", "371"))
        add_customer("C0201300001", "张薇", factories.make_id("310115", "19840506", "491"), branch_code="0201")
        db.session.commit()


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


def _watch_urls(page: Page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_branch_manager_finds_a_customer_by_initials_and_opens_it_with_the_keyboard(page: Page, customers, viewport):
    urls = _watch_urls(page)
    login(page, "manager")
    box = page.locator("#customer-search")
    box.click()
    box.press_sequentially("zw", delay=60)
    listbox = page.locator("#customer-search-listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    # 张伟, 赵文, 曾维 (zeng: read as a surname); 张薇 is at another branch.
    expect(options).to_have_count(3)
    expect(page.locator("#customer-search-status")).to_contain_text("拼音首字母")
    expect(listbox).not_to_contain_text("C0201300001")
    expect(listbox).to_contain_text("张*")  # masked for the branch manager
    _shot(page, "customer-search-dropdown", viewport)
    box.press("ArrowDown")
    box.press("ArrowDown")
    second = options.nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    box.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("Escape")
    expect(page.locator("#customer-search-panel")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press("ArrowDown")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    target = options.nth(0).locator("a").get_attribute("href")
    box.press("Enter")
    page.wait_for_url(f"**{target}")
    expect(page.locator("h1")).to_contain_text("客户")
    assert target.startswith("/customers/C0101300")
    assert not any(ID_NUMBER in url or MOBILE in url or "zw" in url.split("?")[-1] for url in urls), urls


def test_an_id_number_or_mobile_typed_in_the_box_never_goes_into_a_url(page: Page, customers, viewport):
    urls = _watch_urls(page)
    login(page, "clerk")
    box = page.locator("#customer-search")
    for query in (ID_NUMBER.lower(), MOBILE):
        box.fill("")
        box.press_sequentially(query, delay=10)
        expect(page.locator("#customer-search-listbox")).to_contain_text("C0101300001")
    expect(page.locator("#customer-search-listbox")).to_contain_text("按手机号")
    _shot(page, "customer-search-mobile", viewport)
    box.press("Enter")  # nothing chosen: the query is posted to the results page
    expect(page.locator("#search-results")).to_contain_text("C0101300001")
    _shot(page, "customer-search-results", viewport)
    # The results page is a GET of the kept search: a reload shows it again, with what was typed.
    assert "/search/results?s=" in page.url
    page.reload()
    expect(page.locator("#search-results")).to_contain_text("C0101300001")
    expect(page.locator("#q")).to_have_value(MOBILE)
    assert not any(ID_NUMBER in url.upper() or MOBILE in url for url in urls), urls
