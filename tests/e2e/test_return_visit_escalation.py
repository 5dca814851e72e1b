"""A round of unsuccessful calls goes to the branch manager, who sends it back; the next round passes.

The return visit is a case of its own: its state and history show on the agent's and the
manager's pages, and the clerk's application follows it (待回访 → 未激活 → 待回访 → 已激活).
"""
import os

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_opening_wizard import login
from tests.requests.helpers import application_row
from tests.requests.test_return_visit import awaiting_visit

pytestmark = pytest.mark.e2e

SEND_BACK_REASON = "已与客户电话核实，客户本周出差，约定周五下午再次回访"


def _shot(page: Page, name: str, viewport) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}_{viewport[0]}.png"), full_page=True, caret="initial")


def _call(page: Page, reference: str, outcome: str) -> None:
    page.goto("/return-visits/")
    page.locator("tr", has_text=reference).get_by_role("link").click()
    if outcome == "passed":
        for box in page.locator("#field-items input[type=checkbox]").all():
            box.check()
    page.check(f"input[name=outcome][value={outcome}]")
    page.get_by_role("button", name="保存回访结果").click()


def _logout(page: Page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page.locator("#username")).to_be_visible()


def test_an_escalated_visit_is_sent_back_by_the_manager_and_passes_in_the_next_round(
        page: Page, app, viewport, monkeypatch):
    monkeypatch.setitem(app.config, "RETURN_VISIT_MAX_ATTEMPTS", 2)
    reference = awaiting_visit(app)

    login(page, "visitor")
    _call(page, reference, "not_reached")
    expect(page.locator("#flash")).to_contain_text("本轮还可回访 1 次")
    _call(page, reference, "not_reached")
    expect(page.locator("#flash")).to_contain_text("已转营业部负责人处理")
    expect(page.locator("tr", has_text=reference)).to_have_count(0)
    # The agent's page for the case says why no call can be recorded now.
    page.goto(f"/return-visits/{reference}")
    expect(page.locator("#return-visit h1")).to_contain_text("未激活（回访未通过，待负责人处理）")
    expect(page.locator("#visit-closed")).to_contain_text("负责人退回后方可再次回访")
    assert application_row(app, reference)["stage"] == "inactive"
    _logout(page)

    login(page, "manager")
    page.goto("/return-visits/escalated")
    case = page.locator(f"#case-{reference}")
    expect(case).to_contain_text("第 1 轮")
    case.get_by_role("link", name="处理").click()
    history = page.locator("#case-history")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history.locator("tbody tr").nth(0)).to_contain_text("账户开立 → 待回访（第 1 轮）")
    expect(history.locator("tbody tr").nth(1)).to_contain_text("待回访 → 未激活（回访未通过，待负责人处理）（第 1 轮）")
    _shot(page, "return_visit_escalated_case", viewport)
    # Without a reason nothing moves, and the message sits next to the field.
    page.get_by_role("button", name="退回重新回访").click()
    expect(page.locator("#field-reason .field-error")).to_contain_text("请填写退回重新回访的原因")
    page.fill("#reason", SEND_BACK_REASON)
    page.get_by_role("button", name="退回重新回访").dblclick()  # a double click sends it back once
    expect(page.locator("#flash")).to_contain_text("开始第 2 轮回访")
    expect(page.locator(f"#case-{reference}")).to_have_count(0)
    page.goto(f"/return-visits/escalated/{reference}")
    expect(page.locator("#case-history tbody tr")).to_have_count(3)
    expect(page.locator("#case-history tbody tr").nth(2)).to_contain_text(SEND_BACK_REASON)
    expect(page.locator("#send-back-closed")).to_contain_text("无需处理")
    _logout(page)

    login(page, "visitor")
    page.goto("/return-visits/")
    row = page.locator("tr", has_text=reference)
    expect(row.locator(".attempts")).to_have_text("0 / 2")  # a new round has the full allowance
    row.get_by_role("link").click()
    expect(page.locator("#return-visit")).to_contain_text(SEND_BACK_REASON)  # the manager's note for the agent
    _call(page, reference, "passed")
    expect(page.locator("#flash")).to_contain_text("账户已激活")
    assert application_row(app, reference)["stage"] == "active"
    _logout(page)

    # The clerk who opened it sees where it stands, on the application and in the submitted list.
    login(page, "clerk")
    page.goto(f"/opening/{reference}/detail")
    expect(page.locator("#application-status")).to_have_text("已激活")
    expect(page.locator("#fund-account")).to_contain_text("正常")
    page.goto("/opening/")
    expect(page.locator("#my-submitted tr", has_text=reference)).to_contain_text("已激活")
    _shot(page, "opening_submitted_list_after_activation", viewport)
