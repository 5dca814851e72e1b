"""HQ creates a staff member who must change the temporary password; a role change with re-authentication;
disabling a user ends the session they have open."""
import pytest
from playwright.sync_api import Page, expect

from blueprints.home.demo import DEMO_PASSWORD
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
OWN_PASSWORD = "Lq7#vR2m-Spring"


def _open_staff(page: Page, username: str) -> None:
    page.goto("/staff-admin/")
    page.fill("#q", username)
    page.locator("#filter-staff").click()
    page.locator(f"#open-{username}").click()
    expect(page.locator("h1")).to_contain_text(username)


def test_hq_creates_a_staff_member_who_must_change_the_password_at_first_login(page: Page, new_context):
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "admin")
    page.locator("summary", has_text="系统").click()
    page.get_by_role("link", name="用户与赋权").click()
    page.locator("#new-staff").click()
    page.fill("#username", "xunew")
    page.fill("#full_name", "许新人")
    page.select_option("#role", "clerk")
    page.select_option("#branch_id", label="0101 北京朝阳门营业部")
    page.locator("#create-staff").click()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) >= 8

    newcomer = new_context().new_page()
    newcomer.goto("/auth/login")
    newcomer.fill("#username", "xunew")
    newcomer.fill("#password", temporary)
    newcomer.click("button[type=submit]")
    expect(newcomer.locator("#must-change")).to_be_visible()
    newcomer.goto("/opening/")
    expect(newcomer.locator("h1")).to_have_text("修改密码")  # every other page sends them back
    newcomer.fill("#current_password", temporary)
    newcomer.fill("#new_password", "password123")
    newcomer.fill("#confirm_password", "password123")
    newcomer.locator("#save-password").click()
    expect(newcomer.locator("#field-new_password .field-error")).to_have_text("该密码过于常见，容易被猜中，请换一个")
    newcomer.fill("#current_password", temporary)
    newcomer.fill("#new_password", OWN_PASSWORD)
    newcomer.fill("#confirm_password", OWN_PASSWORD)
    newcomer.locator("#save-password").click()
    expect(newcomer.locator("h1")).to_have_text("工作台")
    expect(newcomer.locator("#flash")).to_contain_text("密码已修改")


def test_hq_changes_a_role_after_typing_their_own_password_again(page: Page, new_context):
    clerk = new_context().new_page()
    login(clerk, "clerk")
    login(page, "admin")
    _open_staff(page, "clerk")
    page.select_option("#role", "reviewer")
    page.locator("#save-staff").click()
    expect(page.locator("#field-admin_password .field-error")).to_have_text("修改岗位或营业部须再次输入您本人的登录密码")
    expect(page.locator("#role")).to_have_value("reviewer")  # what was chosen stays
    page.fill("#admin_password", DEMO_PASSWORD)
    page.locator("#save-staff").click()
    expect(page.locator("#flash")).to_contain_text("其登录会话已结束")
    expect(page.locator("[data-field=role]")).to_have_text("复核岗")
    clerk.goto("/")
    expect(clerk.locator("#username")).to_be_visible()  # the clerk's session ended with the role change


def test_disabling_a_user_ends_their_open_session(page: Page, new_context):
    page.on("dialog", lambda dialog: dialog.accept())
    clerk = new_context().new_page()
    login(clerk, "clerk")
    login(page, "admin")
    _open_staff(page, "clerk")
    page.locator("#disable-staff").click()
    expect(page.locator("#flash")).to_contain_text("已停用")
    expect(page.locator("#enable-staff")).to_be_visible()
    clerk.goto("/opening/")
    expect(clerk.locator("#username")).to_be_visible()
