"""The wizard with the mistakes real clerks make: back and re-save, a returned step, a refused
witness save, a scan asked again, void, and a session that ends mid-step."""
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from blueprints.review import services as review
from core.extensions import db
from core.storage import LocalStore
from tests import factories
from tests.e2e.test_opening_wizard import (
    complete_wizard,
    fill_contact,
    fill_identity,
    login,
    save,
    scan,
    sign,
    walk_from_contact,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))


def step_link(page: Page, key: str):
    return page.locator(f".steps li[data-step={key}] a")


def wizard_top_after_settling(page: Page, element_id: str = "wizard") -> float:
    """Where an element's top is once scrolling has stopped (the page's CSP forbids wait_for_function)."""
    top = None
    for _ in range(20):
        page.wait_for_timeout(100)
        now = page.evaluate(f"document.getElementById('{element_id}').getBoundingClientRect().top")
        if now == top:
            return now
        top = now
    return top


def reject(app, reference: str, step: str, reason: str) -> None:
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.reject(application, reviewer, reviewer, reason, step)
        db.session.commit()


def test_back_and_resave_keeps_the_later_steps_filled(page: Page):
    login(page)
    reference = complete_wizard(page)
    assert reference
    step_link(page, "identity").click()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "identity")
    expect(page.locator("#name")).to_have_value("刘晓明")
    save(page, "contact")
    expect(page.locator("#mobile")).to_have_value("13812348000")
    expect(page.locator("#address")).to_have_value(factories.contact()["address"])
    # The swapped step opens at its top, not scrolled part-way down.
    assert wizard_top_after_settling(page) >= -1
    page.go_back()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "identity")
    expect(page.locator("#name")).to_have_value("刘晓明")


@pytest.mark.parametrize("channel", ["onsite", "witness"])
def test_a_returned_step_is_fixed_and_the_clerk_lands_on_the_summary(app, page: Page, channel, tmp_path):
    user = "clerk" if channel == "onsite" else "witness"
    login(page, user)
    page.goto("/opening/new")
    page.check(f"input[name=channel][value={channel}]")
    save(page, "identity")
    reference = page.locator(".ref strong").inner_text()
    fill_identity(page)
    save(page, "contact")
    walk_from_contact(page, then="summary" if channel == "onsite" else "witness")
    if channel == "witness":
        fill_witness(page, tmp_path)
        save(page, "summary")
    expect(page.locator(".steps li[data-step=summary]")).to_contain_text("10." if channel == "onsite" else "11.")
    page.get_by_role("button", name="提交复核").click()
    expect(page.locator("#submitted h1")).to_have_text("开户申请已提交复核")

    reject(app, reference, "contact", "手机号码与客户口述不符")
    page.goto("/opening/")
    row = page.locator("#my-drafts tr", has_text=reference)
    expect(row).to_contain_text("退回原因：手机号码与客户口述不符")
    row.get_by_role("link", name="继续办理").click()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "contact")
    expect(page.locator(".steps li[data-step=contact] .flag")).to_have_text("需修改")
    page.fill("#mobile", "13912348000")
    save(page, "summary")
    expect(page.locator(".steps li[data-step=contact] .flag")).to_have_count(0)
    expect(page.locator("#rejection")).to_contain_text("已修改")
    page.get_by_role("button", name="提交复核").click()
    expect(page.locator("#submitted")).to_contain_text("重新提交待复核")


def fill_witness(page: Page, tmp_path, place: str = "北京市朝阳区光华路1号 客户办公室") -> None:
    page.locator("#field-present label", has_text="赵见证").locator("input").check()
    page.locator("#field-present label", has_text="王柜员").locator("input").check()
    page.check("input[name=mode][value=in_person]")
    page.select_option("#witness_id", label="赵见证（开户见证人员）")
    page.fill("#place", place)
    page.check("#work_id_shown")
    page.check("#photo_consent")
    page.set_input_files("#photo", scan("photo.png", 120))
    sign(page)


@pytest.mark.parametrize("viewport", ["tablet", "tablet_landscape"], indirect=True)
def test_a_refused_witness_save_keeps_the_photo_and_the_signature(page: Page, tmp_path):
    login(page, "witness")
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)
    save(page, "contact")
    walk_from_contact(page, then="witness")
    fill_witness(page, tmp_path, place="")
    page.get_by_role("button", name="保存并下一步").tap()
    expect(page.locator("#field-place .field-error")).to_be_visible()
    expect(page.locator("#saved-photo img")).to_be_visible()
    expect(page.locator("#signature-saved")).to_contain_text("本次签名已保留")
    # The pad shows the signature the customer gave (it is drawn once the image has loaded).
    drawn = False
    for _ in range(30):
        drawn = page.evaluate("""() => { const c = document.querySelector('canvas[data-signature-pad]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) return true; } return false; }""")
        if drawn:
            break
        page.wait_for_timeout(100)
    assert drawn
    page.fill("#place", "北京市朝阳区光华路1号 客户办公室")
    page.get_by_role("button", name="保存并下一步").tap()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "summary")


def test_a_scan_asked_again_is_rescanned_and_approved(app, page: Page, new_context):
    login(page)
    reference = complete_wizard(page)
    page.get_by_role("button", name="提交复核").click()
    expect(page.locator("#submitted h1")).to_have_text("开户申请已提交复核")

    reviewer = new_context().new_page()
    login(reviewer, "reviewer")
    reviewer.goto(f"/review/{reference}")
    back = reviewer.locator(".document", has_text="反面")
    back.locator("textarea").fill("反面模糊，有效期看不清")
    back.get_by_role("button", name="要求重新提交").click()
    expect(reviewer.locator(".document", has_text="反面")).to_contain_text("等待柜员补充")

    page.goto("/opening/")
    row = page.locator("#my-drafts tr", has_text=reference)
    expect(row).to_contain_text("反面模糊，有效期看不清")
    row.get_by_role("link", name="补充影像").click()
    page.set_input_files("#id_back", scan("back-again.png", 60))
    page.get_by_role("button", name="提交补充影像").click()
    expect(page.locator("#flash")).to_contain_text("已补充影像")

    reviewer.reload()
    expect(reviewer.locator(".document", has_text="反面")).to_contain_text("第 2 版")
    reviewer.once("dialog", lambda dialog: dialog.accept())  # 确认复核通过并开立账户？
    reviewer.get_by_role("button", name="复核通过").click()
    expect(reviewer.locator("#flash")).to_contain_text("已复核通过")


def test_a_draft_is_voided_with_a_reason(page: Page):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    reference = page.locator(".ref strong").inner_text()
    fill_identity(page)
    save(page, "contact")
    page.locator("details.withdraw summary").click()
    page.get_by_role("button", name="确认作废").click()
    expect(page.locator("#field-reason_code .field-error")).to_have_text("请选择作废原因")
    page.check("input[name=reason_code][value=duplicate]")
    page.get_by_role("button", name="确认作废").click()
    expect(page).to_have_url(re.compile(r"/opening/$"))
    expect(page.locator("#my-drafts")).to_have_count(0)
    page.goto(f"/opening/{reference}/detail")
    expect(page.locator("body")).to_contain_text("重复录入")


def test_a_session_that_ends_mid_step_is_resumed_after_login(page: Page, new_context, console_errors):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)
    save(page, "contact")
    step_url = page.url
    fill_contact(page)
    page.fill("#employer", "北京某科技有限公司研发部")
    # Another tab of the same browser logs out: the same cookies post the logout form.
    token = page.locator("form[action='/auth/logout'] input[name=csrf_token]").input_value()
    logout = page.context.request.post("/auth/logout", form={"csrf_token": token}, max_redirects=0)
    assert logout.status in (302, 303)

    page.get_by_role("button", name="保存并下一步").click()
    expect(page.locator("#network-error")).to_contain_text("登录已失效，请重新登录")
    expect(page.locator("#employer")).to_have_value("北京某科技有限公司研发部")
    console_errors.clear()  # htmx logs the 401 this test provokes
    page.locator("#network-error a", has_text="重新登录").click()
    page.fill("#username", "clerk")
    page.fill("#password", "Demo@2026")
    page.click("button[type=submit]")
    expect(page).to_have_url(step_url)
    expect(page.locator("#restored-unsaved")).to_be_visible()
    expect(page.locator("#employer")).to_have_value("北京某科技有限公司研发部")
    save(page, "verification")


def test_a_refused_questionnaire_shows_the_first_unanswered_question(page: Page):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)
    save(page, "contact")
    fill_contact(page)
    save(page, "verification")
    page.get_by_role("button", name="发起核查").click()
    page.locator("#verification-next").click()
    page.check("input[name=has_agent][value=no]")
    save(page, "documents")
    page.set_input_files("#id_front", scan("f.png"))
    page.set_input_files("#id_back", scan("b.png"))
    save(page, "disclosure")
    page.check("#customer_acknowledged")
    save(page, "suitability")
    expect(page.locator("#question-q01 input[value=B]")).to_be_checked()  # from the ID's birth date
    for question, option in factories.answers().items():
        if question not in ("q09", "q12"):
            page.locator(f"#question-{question} input[value={option}]").check()
    page.locator("#question-q16 input[value=A]").check()
    expect(page.locator("#question-q16 input[value=D]")).not_to_be_checked()  # 以上均不存在 cleared
    page.get_by_role("button", name="提交评估").click()
    expect(page.locator("#question-q09 .field-error")).to_have_text("请回答第9题")
    top = wizard_top_after_settling(page, "question-q09")
    assert 0 <= top < page.viewport_size["height"] / 2


@pytest.mark.parametrize("viewport", ["tablet", "tablet_landscape"], indirect=True)
def test_touch_targets_on_a_tablet_are_at_least_44_px(page: Page):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)
    save(page, "contact")
    targets = ["label.radio", "label.check", ".steps li a", ".topbar button.link", "button.primary"]
    for selector in targets:
        for box in [element.bounding_box() for element in page.locator(selector).all() if element.is_visible()]:
            assert box["height"] >= 44 and box["width"] >= 44, (selector, box)
