"""An agent pages the return-visit queue forward by keyset, reloads, goes back, and opens a case."""
import os
import random
import tempfile

import pytest
from playwright.sync_api import Page, expect

from bench import crm_data, list_data
from blueprints.auth.models import Branch, Staff
from core.extensions import db
from tests.e2e.test_opening_wizard import login

pytestmark = pytest.mark.e2e


def _queue_of(app, count: int) -> None:
    from sqlalchemy import select, update

    from blueprints.opening.models import Application

    with app.app_context():
        crm_data.generate(700, seed=11)
        branch = db.session.scalar(select(Branch.id).where(Branch.code == "0101"))
        agent = db.session.scalar(select(Staff.id).where(Staff.username == "visitor"))
        found = list_data.openings(branch, limit=count)
        list_data.add_cases(found, agent, random.Random(11), awaiting=1.0)
        # The bench numbers its applications apart from real ones; the case pages take real references only.
        for opening in found:
            db.session.execute(update(Application).where(Application.id == opening.application_id)
                               .values(reference=f"KH2026{opening.application_id:010d}"))
        db.session.commit()


def _references(page: Page) -> list[str]:
    return page.locator("#return-visit-queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.reference)")


def test_agent_pages_the_queue_reloads_goes_back_and_opens_a_case(page: Page, app, viewport):
    _queue_of(app, 70)
    login(page, "visitor")
    page.goto("/return-visits/")
    first = _references(page)
    assert len(first) == 50
    expect(page.locator(".keyset-first")).to_have_count(0)

    page.locator(".keyset-next").click()
    page.wait_for_url("**/return-visits/?after=*")
    expect(page.locator(".keyset-end")).to_have_text("已是最后一页")
    second = _references(page)
    assert len(second) == 20 and not set(second) & set(first)
    expect(page.locator("h1")).to_have_text("回访队列")  # only the rows were swapped
    name, _size = viewport
    page.screenshot(path=os.path.join(tempfile.gettempdir(), f"list_paging_queue_{name}.png"), full_page=True,
                    caret="initial")

    page.reload()
    assert _references(page) == second
    expect(page.locator(".keyset-first")).to_be_visible()

    page.go_back()
    page.wait_for_url("**/return-visits/")
    expect(page.locator("#return-visit-queue tbody tr").first).to_have_attribute("data-reference", first[0])
    assert _references(page) == first
    expect(page.locator("header, nav").first).to_be_visible()  # a whole page, not a fragment

    page.locator(".keyset-next").click()
    page.wait_for_url("**/return-visits/?after=*")
    page.locator(".keyset-first").click()
    page.wait_for_url("**/return-visits/")
    assert _references(page) == first

    row = page.locator(f'tr[data-reference="{first[0]}"]')
    row.get_by_role("link", name="开始回访").click()
    page.wait_for_url(f"**/return-visits/{first[0]}")
    expect(page.locator("body")).to_contain_text(first[0])
    page.screenshot(path=os.path.join(tempfile.gettempdir(), f"list_paging_case_{name}.png"), full_page=True,
                    caret="initial")


def test_the_other_lists_page_forward_in_place(page: Page, app, viewport, new_context):
    from sqlalchemy import select

    with app.app_context():
        crm_data.generate(1500, seed=12)
        branch = db.session.scalar(select(Branch.id).where(Branch.code == "0101"))
        agent = db.session.scalar(select(Staff.id).where(Staff.username == "visitor"))
        list_data.add_cases(list_data.openings(branch, limit=60), agent, random.Random(12), awaiting=0.0, escalated=1.0)
        list_data.add_reviews(70, branch, db.session.scalar(select(Staff.id).where(Staff.username == "clerk")),
                              random.Random(12))
        customers = [o.customer_id for o in list_data.openings(branch, without_case=False)]
        list_data.add_lending(customers, db.session.scalar(select(Staff.id).where(Staff.username == "archivist")),
                              branch, 70, random.Random(12))
        db.session.commit()
    name, _size = viewport
    for username, url, rows, heading in (("manager", "/return-visits/escalated", "#escalated-rows article", "回访未通过待处理"),
                                         ("reviewer", "/review/", "#review-queue-rows tbody tr", "待复核开户申请"),
                                         ("manager", "/archive/register", "#lending-list tbody tr", "借阅登记簿")):
        user = new_context().new_page()
        login(user, username)
        user.goto(url)
        first = user.locator(rows).first.get_attribute("data-reference") or user.locator(rows).first.get_attribute("data-record")
        user.locator(".keyset-next").click()
        expect(user.locator(".keyset-first")).to_be_visible()
        expect(user.locator(rows).first).not_to_have_attribute("data-reference" if "lending" not in rows else "data-record", first)
        expect(user.locator("h1")).to_have_text(heading)
        user.screenshot(path=os.path.join(tempfile.gettempdir(), f"list_paging_{url.strip('/').replace('/', '_')}_{name}.png"),
                        full_page=True, caret="initial")

    login(page, "admin")  # HQ: every branch's customers, so 王 fills more than a page
    page.goto("/archive/")
    page.fill("#name", "王")
    page.get_by_role("button", name="按姓名查询", exact=True).click()
    first = page.locator("#archive-list tbody tr").first.get_attribute("data-customer")
    assert "王" not in page.url
    page.locator("#archive-results .keyset-next").click()
    expect(page.locator("#archive-results .keyset-first")).to_be_visible()
    expect(page.locator("#archive-list tbody tr").first).not_to_have_attribute("data-customer", first)
    expect(page.locator("#archive-list tbody tr").first).to_contain_text("*")  # names stay masked
    assert "王" not in page.url and "s=" in page.url  # the kept search's key and the cursor only
    second = page.locator("#archive-list tbody tr").first.get_attribute("data-customer")
    # Reload keeps the page and the name typed; back returns to the first page, without a resubmission.
    page.reload()
    expect(page.locator("#archive-list tbody tr").first).to_have_attribute("data-customer", second)
    expect(page.locator("#name")).to_have_value("王")
    page.go_back()
    expect(page.locator("#archive-list tbody tr").first).to_have_attribute("data-customer", first)
    expect(page.locator("#name")).to_have_value("王")
    page.screenshot(path=os.path.join(tempfile.gettempdir(), f"list_paging_archive_name_{name}.png"), full_page=True,
                    caret="initial")
