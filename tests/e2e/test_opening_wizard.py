"""The clerk opens an account in a real browser, at counter and tablet sizes."""
import re

import pytest
from playwright.sync_api import Page, expect

from blueprints.home.demo import DEMO_PASSWORD
from tests import factories

pytestmark = pytest.mark.e2e


def login(page: Page, username: str = "clerk") -> None:
    page.goto("/auth/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("工作台")


def save(page: Page, next_step: str, label: str = "保存并下一步") -> None:
    page.get_by_role("button", name=label).click()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", next_step)


def fill_identity(page: Page) -> None:
    data = factories.identity()
    page.select_option("#id_type", data["id_type"])
    page.fill("#id_number", data["id_number"])
    page.fill("#name", data["name"])
    page.check("input[name=sex][value=M]")
    page.select_option("#ethnicity", data["ethnicity"])
    page.fill("#birth_date", data["birth_date"])
    page.fill("#valid_from", data["valid_from"])
    page.fill("#valid_to", data["valid_to"])
    page.fill("#authority", data["authority"])
    page.fill("#address", data["address"])


def fill_contact(page: Page) -> None:
    data = factories.contact()
    page.fill("#mobile", data["mobile"])
    page.fill("#email", data["email"])
    page.fill("#postcode", data["postcode"])
    page.select_option("#occupation", data["occupation"])
    page.select_option("#education", data["education"])
    page.fill("#employer", data["employer"])
    page.fill("#address", data["address"])
    page.check("input[name=tax_residency][value=cn_only]")


def answer_questionnaire(page: Page) -> None:
    for question, option in factories.answers("best").items():
        page.locator(f"#question-{question} input[value={option}]").check()


def fill_agreements(page: Page) -> None:
    for box in ("brokerage", "depository", "online_trading", "privacy"):
        page.check(f"#agreement_{box}")
    page.select_option("#change_method", "counter")
    page.select_option("#closure_method", "counter")
    page.select_option("#bank_code", "ICBC")
    page.fill("#bank_card", factories.BANK_CARD)


def complete_wizard(page: Page) -> str:
    """Walk the logged-in clerk through every step to the summary; return the reference."""
    page.get_by_role("link", name="新建现场开户").click()
    save(page, "identity")
    reference = page.locator(".ref strong").inner_text()
    fill_identity(page)
    save(page, "contact")
    walk_from_contact(page, then="summary")
    return reference


def scan(name: str, shade: int = 180) -> dict:
    """A scanner's file for set_input_files."""
    return {"name": name, "mimeType": "image/png", "buffer": factories.scan_png(shade=shade)}


def sign(page: Page) -> None:
    """Draw a signature on the tablet's signature pad (scrolled into view first: touches off screen miss)."""
    pad = page.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 25, box["y"] + 100 + (15 if step % 2 else -15))
    page.mouse.up()


def verify_identity(page: Page) -> None:
    """Run the (simulated) identity check, see its result, and go on to the agent step."""
    page.get_by_role("button", name="发起核查").click()
    expect(page.locator("#verification-result")).to_contain_text("核查结果：一致")
    page.locator("#verification-next").click()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "agent")


def upload_documents(page: Page, then: str = "disclosure") -> None:
    page.set_input_files("#id_front", scan("id-front.png", 170))
    page.set_input_files("#id_back", scan("id-back.png", 190))
    save(page, then)


def assess(page: Page) -> None:
    """Answer the questionnaire, see the score and class, and go on."""
    answer_questionnaire(page)
    page.get_by_role("button", name="提交评估").click()
    expect(page.locator("#assessment-result")).to_contain_text("C5")
    page.locator("#suitability-next").click()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "agreements")


def walk_from_contact(page: Page, then: str) -> None:
    """Fill contact through agreements with valid answers; `then` is the step that follows."""
    fill_contact(page)
    save(page, "verification")
    verify_identity(page)
    page.check("input[name=has_agent][value=no]")
    save(page, "documents")
    upload_documents(page)
    page.check("#customer_acknowledged")
    save(page, "suitability")
    assess(page)
    fill_agreements(page)
    save(page, then)


def test_clerk_completes_the_wizard_without_page_reloads(page: Page):
    login(page)
    page.get_by_role("link", name="新建现场开户").click()
    # The wizard's own page first: a marker set before it loads would be lost with the page it was set on.
    page.wait_for_url("**/opening/new")
    page.wait_for_load_state("load")
    # A marker on window survives only if no step reloads the page.
    page.evaluate("window.__noReload = true")
    save(page, "identity")
    reference = page.locator(".ref strong").inner_text()
    assert re.fullmatch(r"KH\d{14}", reference)

    fill_identity(page)
    page.fill("#id_number", "110105198806123150")  # wrong check digit first
    page.get_by_role("button", name="保存并下一步").click()
    expect(page.locator("#field-id_number .field-error")).to_contain_text("校验")
    expect(page.locator("#name")).to_have_value("刘晓明")  # nothing else lost
    page.fill("#id_number", factories.CUSTOMER_ID)
    save(page, "contact")
    assert reference in page.url

    fill_contact(page)
    save(page, "verification")
    expect(page.locator("h1 .badge-sim")).to_have_text("模拟")
    verify_identity(page)

    page.check("input[name=has_agent][value=no]")
    expect(page.locator("[data-agent-fields]")).to_be_hidden()
    save(page, "documents")

    upload_documents(page)
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "disclosure")

    page.check("#customer_acknowledged")
    save(page, "suitability")

    assess(page)

    fill_agreements(page)
    save(page, "summary")

    expect(page.locator("#consistency-ok")).to_be_visible()
    expect(page.locator("#summary-identity")).to_contain_text("刘晓明")
    expect(page.locator("#summary-assessment")).to_contain_text("C5")
    assert page.evaluate("window.__noReload === true")
    page.get_by_role("button", name="提交复核").click()
    expect(page.locator("#submitted h1")).to_have_text("开户申请已提交复核")
    expect(page.locator("#submitted")).to_contain_text("待复核")


def test_clerk_resumes_a_draft_from_a_new_browser(page: Page, new_context):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    reference = page.locator(".ref strong").inner_text()
    fill_identity(page)
    save(page, "contact")
    page.fill("#mobile", "13812348000")  # typed but not saved: the step is incomplete
    page.context.close()

    other = new_context().new_page()
    login(other)
    row = other.locator("#my-drafts tr", has_text=reference)
    expect(row).to_contain_text("刘晓明")  # the clerk's own draft: the name as typed
    row.get_by_role("link", name="继续办理").click()
    expect(other.locator("#step-panel")).to_have_attribute("data-step", "contact")
    other.get_by_role("link", name="2. 身份证明文件").click()
    expect(other.locator("#step-panel")).to_have_attribute("data-step", "identity")
    expect(other.locator("#name")).to_have_value("刘晓明")
    expect(other.locator("#id_number")).to_have_value(factories.CUSTOMER_ID)
    expect(other.locator("#valid_to")).to_have_value("2039-05-20")


def test_weak_network_keeps_the_input_and_says_so(page: Page, console_errors):
    login(page)
    page.goto("/opening/new")
    save(page, "identity")
    fill_identity(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="保存并下一步").click()
    expect(page.locator("#network-error")).to_be_visible()
    expect(page.locator("#name")).to_have_value("刘晓明")
    page.context.set_offline(False)
    assert any("sendError" in e or "ERR_INTERNET_DISCONNECTED" in e for e in console_errors)
    console_errors.clear()
    save(page, "contact")
