"""The header menu on a counter screen and a tablet: a branch manager reaches every page through the grouped menus."""
import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")


@pytest.mark.parametrize("username", ["clerk", "cmanager", "admin"])
def test_the_header_fits_the_screen_for_every_role(page: Page, viewport, username):
    login(page, username)
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for right in page.locator(".topnav").locator(":scope > a, :scope > details > summary").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"):
        assert right <= width


def test_a_branch_manager_opens_each_menu_and_reaches_its_pages(page: Page, viewport):
    login(page, "manager")
    nav = page.locator(".topnav")
    # The whole bar fits: no link hides off the right edge (a tablet is 768 px wide).
    width = page.evaluate("document.documentElement.clientWidth")
    for box in (nav.locator(":scope > a, :scope > details > summary").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)")):
        assert box <= width

    customers_menu = nav.locator("details", has=page.locator("summary", has_text="客户"))
    customers_menu.locator("summary").click()
    expect(customers_menu.get_by_role("link", name="服务记录")).to_be_visible()
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"nav-manager-{viewport[0]}.png"), caret="initial")

    # Opening another menu closes the first; Escape closes it too.
    work_menu = nav.locator("details", has=page.locator("summary", has_text="工作"))
    work_menu.locator("summary").click()
    expect(customers_menu.get_by_role("link", name="服务记录")).to_be_hidden()
    expect(work_menu.get_by_role("link", name="资料变更")).to_be_visible()
    page.keyboard.press("Escape")
    expect(work_menu.get_by_role("link", name="资料变更")).to_be_hidden()

    # A tap outside closes a menu; a link inside goes to its page.
    customers_menu.locator("summary").click()
    page.locator("main").click(position={"x": 5, "y": 5})
    expect(customers_menu.get_by_role("link", name="服务记录")).to_be_hidden()
    customers_menu.locator("summary").click()
    customers_menu.get_by_role("link", name="服务记录").click()
    expect(page).to_have_url(re.compile(r"/service/$"))
    expect(page.locator("h1")).to_be_visible()
