"""Logging out and an expired session in the browser: back and reload show no customer page again."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from blueprints.auth.models import StaffSession
from core.extensions import db
from core.timeutil import utcnow
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
CUSTOMER = "/customers/C0101000001"


def test_after_logout_back_and_reload_show_the_login_page_not_the_customer(page: Page, viewport):
    login(page, "clerk")
    page.goto(CUSTOMER)
    expect(page.locator("main")).to_contain_text("C0101000001")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("#flash")).to_contain_text("已安全退出")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("main")).not_to_contain_text("C0101000001")
    page.reload()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("main")).not_to_contain_text("C0101000001")
    page.goto(CUSTOMER)
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.locator("h1")).to_have_text("员工登录")


def test_an_idle_session_brings_the_login_page_with_a_message_and_back_to_the_page(app, page: Page, viewport):
    login(page, "clerk")
    page.goto(CUSTOMER)
    expect(page.locator("main")).to_contain_text("C0101000001")
    with app.app_context():
        idle = app.config["IDLE_TIMEOUT"] + timedelta(minutes=1)
        db.session.execute(update(StaffSession).values(last_seen_at=utcnow() - idle))
        db.session.commit()
    page.reload()
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.locator("#flash")).to_contain_text("长时间未操作，会话已过期，请重新登录")
    expect(page.locator("main")).not_to_contain_text("C0101000001")
    page.fill("#username", "clerk")
    page.fill("#password", "Demo@2026")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(CUSTOMER) + "$"))
