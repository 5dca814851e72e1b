"""Complaints and handovers in a real browser: a 12386 complaint from record to the customer's feedback;
a handover with an effective date, reviewed by the branch manager."""
import os
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from blueprints.managers import services as managers
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("E2E_SCREENSHOTS")
CUSTOMER = "C0101000001"


def _shot(page: Page, name: str, viewport) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{viewport[0]}.png"), full_page=True)


def _as(new_context, username: str) -> Page:
    page = new_context().new_page()
    login(page, username)
    return page


def test_a_12386_complaint_is_recorded_assigned_and_closed_with_the_customers_feedback(page: Page, new_context, viewport, app, monkeypatch):
    # The first contact is due one working day after receipt: from a Friday that is Monday, three days
    # ahead. The reminders look this far ahead, so the handler sees the complaint whatever the weekday.
    monkeypatch.setitem(app.config, "REMINDER_DAYS_AHEAD", 4)
    login(page, "manager")
    page.goto(f"/customers/{CUSTOMER}")
    expect(page.locator("#current-manager")).to_contain_text("陈客户经理")
    page.locator("#new-complaint").click()
    expect(page.locator("input[name=kind][value=complaint]")).to_be_checked()
    page.fill("#subject", "佣金收取与约定不符")
    page.fill("#content", "客户经12386热线投诉：实际佣金高于开户时约定的费率。")
    page.select_option("#channel", "csrc_12386")
    page.select_option("#category", "brokerage")
    page.check("input[name=urgency][value=important]")
    page.select_option("#complained_staff", label="陈客户经理（客户经理）")
    page.get_by_role("button", name="登记").click()
    expect(page.locator("#field-case_no .field-error")).to_have_text("12386转办的投诉须填写转办编号")
    expect(page.locator("#subject")).to_have_value("佣金收取与约定不符")
    page.fill("#case_no", "12386-2026-004512")
    _shot(page, "complaint-new", viewport)
    page.get_by_role("button", name="登记").click()
    expect(page.locator("#complaint-channel")).to_contain_text("12386转办（转办编号 12386-2026-004512）")
    expect(page.locator("#complaint-handler")).to_have_text("待指定")
    # The staff member complained about is not offered as handler.
    expect(page.locator("#handler option", has_text="陈客户经理")).to_have_count(0)
    page.select_option("#handler", label="林客户经理（客户经理）")
    page.locator("#assign-submit").click()
    expect(page.locator("#complaint-handler")).to_have_text("林客户经理")
    reference = page.locator("h1").inner_text().split()[1]
    _shot(page, "complaint-assigned", viewport)

    handler = _as(new_context, "cmanager2")
    expect(handler.locator("#reminders")).to_contain_text(reference)
    handler.locator("#reminders a", has_text=reference).click()
    handler.fill("#note", "已致电客户，核对开户时签署的佣金费率。")
    handler.locator("#follow-up-submit").click()
    expect(handler.locator("#service-events")).to_contain_text("首次联系客户")
    handler.fill("#outcome", "经核实系费率设置错误，已更正并退还多收佣金。")
    handler.locator("#close-submit").click()
    expect(handler.locator("#field-feedback .field-error")).to_be_visible()
    handler.check("input[name=feedback][value=satisfied]")
    handler.fill("#feedback_text", "处理及时")
    handler.locator("#close-submit").click()
    expect(handler.locator("#service-status")).to_have_text("已办结")
    expect(handler.locator("#complaint-feedback")).to_have_text("满意：处理及时")
    _shot(handler, "complaint-closed", viewport)

    page.goto(f"/customers/{CUSTOMER}")
    expect(page.locator("#service-records")).to_contain_text(reference)
    expect(page.locator("#service-records")).to_contain_text("已办结")


def test_a_handover_with_an_effective_date_is_reviewed_and_takes_effect_on_that_date(page: Page, new_context, viewport):
    effective = managers.today() + timedelta(days=2)
    login(page, "cmanager")
    page.goto(f"/customers/{CUSTOMER}")
    page.locator("#hand-over-link").click()
    expect(page.locator("#handover-giver")).to_contain_text("陈客户经理")
    expect(page.locator(f"input[name=customers]").first).to_be_checked()
    page.get_by_label("林客户经理（客户经理）").check()
    page.fill("#effective_date", (managers.today() - timedelta(days=1)).isoformat())
    page.fill("#reason", "岗位调整")
    page.locator("#handover-submit").click()
    expect(page.locator("#field-effective_date .field-error")).to_contain_text("不能早于今天")
    page.fill("#effective_date", effective.isoformat())
    _shot(page, "handover-new", viewport)
    page.locator("#handover-submit").click()
    expect(page.locator("#handover-status")).to_have_text("待审核")
    expect(page.locator("#awaiting-review")).to_be_visible()
    reference = page.locator("h1").inner_text().split()[1]

    boss = _as(new_context, "manager")
    expect(boss.locator("#reminders")).to_contain_text(reference)
    boss.locator("#reminders a", has_text=reference).click()
    boss.check("input[name=decision][value=approve]")
    boss.locator("#decision-submit").click()
    expect(boss.locator("#handover-status")).to_have_text("审核通过")
    expect(boss.locator("#handover-effect")).to_contain_text(f"将于 {effective.isoformat()} 生效")
    _shot(boss, "handover-approved", viewport)
    boss.goto(f"/customers/{CUSTOMER}")
    expect(boss.locator("#scheduled-handover")).to_contain_text(f"自 {effective.isoformat()} 起由 林客户经理 服务")
    _shot(boss, "customer-manager-panel", viewport)

    # Until the date the customer stays with the manager handing over.
    page.goto(f"/customers/{CUSTOMER}")
    expect(page.locator("#customer-detail")).to_be_visible()
    taker = _as(new_context, "cmanager2")
    taker.goto("/managers/")
    expect(taker.locator("#no-customers")).to_be_visible()
