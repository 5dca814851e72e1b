"""After a refused save the cursor goes to the first field in error, unless the user is already typing in
the new form: then their keystrokes stay where they are typing."""
import re

import pytest
from playwright.sync_api import Page, expect

from blueprints.home.demo import DEMO_PASSWORD
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e


def _refuse_a_common_password(page: Page) -> None:
    page.fill("#current_password", DEMO_PASSWORD)
    page.fill("#new_password", "password123")
    page.fill("#confirm_password", "password123")
    page.locator("#save-password").click()
    expect(page.locator("#field-new_password .field-error")).to_have_text("该密码过于常见，容易被猜中，请换一个")


def test_the_cursor_goes_to_the_first_field_in_error(page: Page):
    login(page, "admin")
    page.goto("/staff-admin/password")
    _refuse_a_common_password(page)
    expect(page.locator("#new_password")).to_be_focused()


def test_typing_the_moment_the_refusal_arrives_is_not_moved_to_another_field(page: Page):
    login(page, "admin")
    page.goto("/staff-admin/password")
    # Settling takes a second here instead of 20 ms: the user is in a field before it ends.
    page.evaluate("htmx.config.defaultSettleDelay = 1000")
    _refuse_a_common_password(page)
    page.locator("#current_password").click()
    page.keyboard.type(DEMO_PASSWORD)
    assert page.evaluate("document.body.classList.contains('htmx-settling')")  # typed before it settled
    expect(page.locator("body")).not_to_have_class(re.compile("htmx-settling"))  # settled: the focus had its chance
    expect(page.locator("#current_password")).to_be_focused()
    expect(page.locator("#current_password")).to_have_value(DEMO_PASSWORD)
    expect(page.locator("#new_password")).to_have_value("")
