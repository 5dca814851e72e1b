"""A branch manager corrects a bank card the depository bank refused, and the opening moves on."""
import pytest
from playwright.sync_api import Page, expect

from core import outbox
from tests import factories
from tests.e2e.test_opening_wizard import login
from tests.requests.helpers import login_as
from tests.requests.test_exceptions import GOOD_CARD, refused_binding

pytestmark = pytest.mark.e2e


@pytest.fixture
def refused(app):
    """An approved application whose bank binding the (simulated) bank refused; its reference."""
    try:
        reference, _message_id = refused_binding(app, login_as(app, "clerk"), reason="卡号与户名不符")
    finally:
        app.extensions["depository_bank"].faults.reset()
    return reference


def test_manager_corrects_a_refused_binding_and_the_application_moves_on(page: Page, app, refused):
    login(page, "manager")
    tile = page.locator("#tile-exceptions")
    expect(tile.locator(".count")).to_have_text("1")
    expect(tile).to_contain_text(refused)
    tile.get_by_role("link", name="异常需人工处理").click()

    row = page.locator("#exception-rows tr", has_text=refused)
    expect(row).to_contain_text("卡号与户名不符")
    row.get_by_role("link", name="处理").click()
    expect(page.locator("#refusal")).to_contain_text("存管银行拒绝：卡号与户名不符（模拟）")
    expect(page.locator("#refusal .badge-sim")).to_be_visible()
    expect(page.locator("#request-bank_card")).to_contain_text(factories.BANK_CARD[:6] + "*")

    # A mistyped card is refused next to the field, and what was typed stays.
    page.wait_for_load_state("load")
    page.fill("#resend-bank_card", GOOD_CARD[:-1] + str((int(GOOD_CARD[-1]) + 1) % 10))
    page.fill("#resend-reason", "客户提供正确卡号，已核对银行卡原件")
    page.get_by_role("button", name="更正并重新发送").click()
    expect(page.locator("#field-resend-bank_card .field-error")).to_have_text("银行卡号校验位错误，请核对卡号")
    expect(page.locator("#resend-reason")).to_have_value("客户提供正确卡号，已核对银行卡原件")

    page.fill("#resend-bank_card", GOOD_CARD)
    page.get_by_role("button", name="更正并重新发送").click()
    expect(page.locator("#flash")).to_contain_text("已更正并重新发送至存管银行")
    expect(page.locator("#delivery-status")).to_contain_text("发送中")
    expect(page.locator("#message-history")).to_contain_text("更正后重新发送")
    expect(page.locator("#message-history")).to_contain_text(GOOD_CARD[:6] + "*")

    # The worker delivers; the page, polling, reloads with the bank's answer.
    with app.app_context():
        assert outbox.run_once().delivered == 1
    expect(page.locator("#message-state")).to_have_text("更正后已受理", timeout=15_000)
    expect(page.locator("#application-status")).to_contain_text("待回访")

    page.get_by_role("link", name=refused).click()
    expect(page.locator("#application-detail h1")).to_contain_text("待回访")
    expect(page.locator("#waiting-bank-bind_depository")).to_have_count(0)
