"""The statistics dashboard: each figure's numbers against hand-counted rows, branch scope, charts, exports, access."""
import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime, time, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bench.dashboard_data import (Ids, change_row, closure_row, customer_row, insert_rows, opening_rows,
                                  visit_row)
from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Branch, Staff
from blueprints.changes.models import CustomerChange
from blueprints.closure.models import AccountClosure
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from blueprints.return_visit.models import ReturnVisit
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import BEIJING, business_today
from tests.requests.helpers import login_as, page_of

SVG = "{http://www.w3.org/2000/svg}"


def beijing(day, hour=12, minute=0) -> datetime:
    """A Beijing wall-clock time as stored (naive UTC)."""
    return datetime.combine(day, time(hour, minute), tzinfo=BEIJING).astimezone(timezone.utc).replace(tzinfo=None)


@pytest.fixture
def data(app):
    """A few rows per branch, counted by hand in each test below.

    Beijing (0101): customers 1 demo (current, unassessed) + 3 current (C3, C3, C1 lowest) + 1 potential
    + 1 historical; openings: onsite yesterday noon, onsite yesterday 00:30 (Beijing day = yesterday,
    UTC day before), witness 2 days ago, onsite 40 days ago (outside the default period), witness
    yesterday but failed (never counted). Visits: 2 passed, 1 not reached, 1 refused in the period;
    1 passed 40 days ago. Changes: ordinary completed ×2, key submitted ×1 in the period; 1 ordinary
    40 days ago. Closures: closed ×1, closing ×1.
    Shanghai (0201): 2 current customers (C5, C2); openings: witness ×2 yesterday; visits: 1 failed;
    changes: 1 renewal rejected; closures: 1 withdrawn.
    """
    today = business_today()
    d1, d2, d40 = today - timedelta(days=1), today - timedelta(days=2), today - timedelta(days=40)
    with app.app_context():
        bj = db.session.scalar(select(Branch).where(Branch.code == "0101")).id
        sh = db.session.scalar(select(Branch).where(Branch.code == "0201")).id
        staff = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
        ids = Ids.after_existing()
        customers = [customer_row(ids, bj, "current", "C3"), customer_row(ids, bj, "current", "C3"),
                     customer_row(ids, bj, "current", "C1", True), customer_row(ids, bj, "potential"),
                     customer_row(ids, bj, "historical", "C4"),
                     customer_row(ids, sh, "current", "C5"), customer_row(ids, sh, "current", "C2")]
        c = [row["id"] for row in customers]
        openings = [opening_rows(ids, c[0], bj, staff, "onsite", beijing(d1)),
                    opening_rows(ids, c[1], bj, staff, "onsite", beijing(d1, 0, 30)),
                    opening_rows(ids, c[2], bj, staff, "witness", beijing(d2)),
                    opening_rows(ids, c[4], bj, staff, "onsite", beijing(d40), "closed"),
                    opening_rows(ids, c[3], bj, staff, "witness", beijing(d1), "failed"),
                    opening_rows(ids, c[5], sh, staff, "witness", beijing(d1)),
                    opening_rows(ids, c[6], sh, staff, "witness", beijing(d1, 9))]
        a = [application["id"] for application, _account in openings]
        f = [account["id"] for _application, account in openings]
        visits = [visit_row(ids, a[0], staff, "passed", beijing(d1, 15)),
                  visit_row(ids, a[1], staff, "not_reached", beijing(d1, 15), 1),
                  visit_row(ids, a[1], staff, "passed", beijing(d1, 16), 2),
                  visit_row(ids, a[2], staff, "refused", beijing(d1, 17)),
                  visit_row(ids, a[3], staff, "passed", beijing(d40, 15)),
                  visit_row(ids, a[5], staff, "failed", beijing(d1, 15))]
        changes = [change_row(ids, c[0], bj, staff, "ordinary", "completed", beijing(d1)),
                   change_row(ids, c[1], bj, staff, "ordinary", "completed", beijing(d2)),
                   change_row(ids, c[2], bj, staff, "key", "submitted", beijing(d1)),
                   change_row(ids, c[0], bj, staff, "ordinary", "completed", beijing(d40)),
                   change_row(ids, c[5], sh, staff, "renewal", "rejected", beijing(d1))]
        closures = [closure_row(ids, c[4], f[3], bj, staff, "closed", beijing(d2)),
                    closure_row(ids, c[0], f[0], bj, staff, "closing", beijing(d1)),
                    closure_row(ids, c[5], f[5], sh, staff, "withdrawn", beijing(d1))]
        insert_rows(Customer, customers)
        insert_rows(Application, [application for application, _account in openings])
        insert_rows(FundAccount, [account for _application, account in openings])
        insert_rows(ReturnVisit, visits)
        insert_rows(CustomerChange, changes)
        insert_rows(AccountClosure, closures)
        db.session.commit()
    return {"today": today, "d1": d1, "d2": d2}


def tables(response) -> dict[str, list[list[str]]]:
    """Each figure's table on the page, as text cells (header row first, totals last)."""
    html = response.get_data(as_text=True)
    found = {}
    for key, body in re.findall(r'<table class="list numbers" id="figure-([a-z_]+)-table">(.*?)</table>', html, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            rows.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)])
        found[key] = rows
    return found


def row_of(table: list[list[str]], first: str) -> list[str]:
    return next(row for row in table if row[0] == first)


def test_branch_manager_sees_own_branch_numbers(app, data):
    manager = login_as(app, "manager")
    response = manager.get("/statistics/")
    assert response.status_code == 200
    t = tables(response)
    daily = t["openings_daily"]
    assert daily[0] == ["日期", "现场开户", "见证开户", "合计"]
    # Both onsite openings fall on yesterday's Beijing date, the 00:30 one included; the failed witness one is not counted.
    assert row_of(daily, str(data["d1"])) == [str(data["d1"]), "2", "0", "2"]
    assert row_of(daily, str(data["d2"])) == [str(data["d2"]), "0", "1", "1"]
    assert daily[-1] == ["合计", "2", "1", "3"]
    assert len(daily) == 1 + 30 + 1  # header, 30 days, totals
    assert t["openings_by_branch"][1:] == [["北京朝阳门营业部", "2", "1", "3"], ["合计", "2", "1", "3"]]
    kinds = t["customers_by_kind"]
    assert kinds[0] == ["营业部", "潜在客户", "现有客户", "历史客户（已销户）", "流失客户", "合计"]
    assert kinds[1] == ["北京朝阳门营业部", "1", "4", "1", "0", "6"]
    risk = t["customers_by_risk"]
    assert risk[0] == ["营业部", "C1 最低类别", "C1 保守型", "C2 谨慎型", "C3 稳健型", "C4 积极型", "C5 激进型", "未评估", "合计"]
    assert risk[1] == ["北京朝阳门营业部", "1", "0", "0", "2", "0", "0", "1", "4"]
    assert t["visit_pass_rate"][1] == ["北京朝阳门营业部", "2", "0", "1", "1", "4", "50.0%"]
    changes = t["changes_by_kind"]
    assert row_of(changes, "普通资料变更")[-1] == "2"
    assert row_of(changes, "关键信息变更")[-1] == "1"
    assert changes[-1][-1] == "3"
    closures = t["closures_by_status"]
    assert closures[0][1:] == ["待复核", "复核退回", "已撤回", "销户中", "销户失败（待处理）", "销户失败（已终止）", "已销户", "合计"]
    assert closures[1] == ["北京朝阳门营业部", "0", "0", "0", "1", "0", "0", "1", "2"]
    html = response.get_data(as_text=True)
    assert "上海浦东营业部" not in html


def test_branch_manager_cannot_ask_for_another_branch(app, data):
    manager = login_as(app, "manager")
    response = manager.get("/statistics/?branch=0201")
    # The branch filter is not offered to a branch's own staff: whatever is asked, the scope is their branch.
    assert response.status_code == 200
    assert "上海浦东营业部" not in response.get_data(as_text=True)
    assert tables(response)["openings_by_branch"][1] == ["北京朝阳门营业部", "2", "1", "3"]
    export = load_workbook(io.BytesIO(manager.get("/statistics/export.xlsx?branch=0201").data))
    assert not any("上海" in str(cell) for sheet in export for row in sheet.iter_rows(values_only=True)
                   for cell in row if cell)


def test_hq_sees_every_branch_and_filters_by_branch(app, data):
    admin = login_as(app, "admin")
    t = tables(admin.get("/statistics/"))
    assert t["openings_by_branch"][1:] == [["北京朝阳门营业部", "2", "1", "3"], ["上海浦东营业部", "0", "2", "2"],
                                          ["合计", "2", "3", "5"]]
    assert row_of(t["openings_daily"], str(data["d1"]))[1:] == ["2", "2", "4"]
    assert t["visit_pass_rate"][1:] == [["北京朝阳门营业部", "2", "0", "1", "1", "4", "50.0%"],
                                       ["上海浦东营业部", "0", "1", "0", "0", "1", "0.0%"],
                                       ["合计", "2", "1", "1", "1", "5", "40.0%"]]
    assert row_of(t["customers_by_risk"], "上海浦东营业部")[1:] == ["0", "0", "1", "0", "0", "1", "0", "2"]
    assert row_of(t["changes_by_kind"], "证件有效期更新")[-1] == "1"
    response = admin.get("/statistics/?branch=0201")
    t = tables(response)
    assert t["openings_by_branch"][1:] == [["上海浦东营业部", "0", "2", "2"], ["合计", "0", "2", "2"]]
    assert t["visit_pass_rate"][1:] == [["上海浦东营业部", "0", "1", "0", "0", "1", "0.0%"],
                                       ["合计", "0", "1", "0", "0", "1", "0.0%"]]
    assert t["closures_by_status"][1][3] == "1"  # withdrawn
    assert "北京朝阳门营业部</th>" not in response.get_data(as_text=True)
    assert page_of(response).select_value("branch") == "0201"


def test_period_limits_the_period_figures_and_not_the_snapshots(app, data):
    manager = login_as(app, "manager")
    day = data["d2"]
    t = tables(manager.get(f"/statistics/?start={day}&end={day}"))
    assert t["openings_daily"][1:] == [[str(day), "0", "1", "1"], ["合计", "0", "1", "1"]]
    assert t["visit_pass_rate"][1][-2:] == ["0", "—"]
    assert t["changes_by_kind"][-1][-1] == "1"
    assert t["closures_by_status"][1][-1] == "1"
    assert t["customers_by_kind"][1][-1] == "6"  # a snapshot: the period does not apply
    longer = tables(manager.get(f"/statistics/?start={data['today'] - timedelta(days=45)}&end={data['today']}"))
    assert longer["openings_daily"][-1] == ["合计", "3", "1", "4"]
    assert longer["visit_pass_rate"][1][-3:] == ["1", "5", "60.0%"]


@pytest.mark.parametrize("query, field, message", [
    ("start=2026-13-01", "start", "请输入正确的日期（年-月-日）"),
    ("start=2026-11-10&end=2026-11-01", "end", "结束日期不能早于开始日期"),
    ("start=2020-01-01&end=2021-06-01", "end", "统计期最长 366 天，请缩短"),
    ("branch=9999", "branch", "请选择列表中的营业部"),
])
def test_bad_selection_is_refused_next_to_the_field(app, query, field, message):
    admin = login_as(app, "admin")
    response = admin.get(f"/statistics/?{query}", htmx=True)
    assert response.status_code == 422
    assert page_of(response).errors_for(field) == [message]
    assert response.headers["HX-Retarget"] == "#dashboard"


def test_end_after_today_is_refused(app):
    manager = login_as(app, "manager")
    tomorrow = business_today() + timedelta(days=1)
    response = manager.get(f"/statistics/?end={tomorrow}")
    assert response.status_code == 422
    assert page_of(response).errors_for("end")[0].startswith("结束日期不能晚于今天")


def test_htmx_request_gets_the_dashboard_only_and_the_address(app, data):
    manager = login_as(app, "manager")
    response = manager.get(f"/statistics/?start={data['d2']}&end={data['d1']}", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in html
    assert response.headers["HX-Push-Url"] == f"/statistics/?start={data['d2']}&end={data['d1']}"


def test_charts_are_well_formed_svg_with_one_mark_per_data_point(app, data):
    admin = login_as(app, "admin")
    html = admin.get("/statistics/").get_data(as_text=True)
    svgs = {}
    for svg in re.findall(r'<svg class="chart.*?</svg>', html, re.S):
        element = ET.fromstring(svg)
        svgs[element.get("id")] = element
    assert len(svgs) == 12  # seven built-in figures and five CRM ones (statistics/crm.py)
    daily = svgs["chart-openings_daily"]
    points = daily.findall(f".//{SVG}circle[@class='data-point']")
    assert len(points) == 30 * 2
    yesterday = [p for p in points if p.get("data-category") == str(data["d1"])]
    assert {(p.get("data-series"), p.get("data-value")) for p in yesterday} == {("现场开户", "2"), ("见证开户", "2")}
    assert len(daily.findall(f".//{SVG}polyline")) == 2
    stacked = svgs["chart-openings_by_branch"]
    bars = stacked.findall(f".//{SVG}rect[@class='data-point']")
    assert len(bars) == 2 * 2  # two branches, two channels
    assert [b.findtext(f"{SVG}title") for b in bars][:2] == ["北京朝阳门营业部 · 现场开户：2 户", "北京朝阳门营业部 · 见证开户：1 户"]
    labels = [t.text for t in stacked.findall(f".//{SVG}text[@class='category-label']")]
    assert labels == ["北京朝阳门营业部", "上海浦东营业部"]
    legend = [t.text for t in stacked.findall(f".//{SVG}g[@class='legend-item']/{SVG}text")]
    assert legend == ["现场开户", "见证开户"]
    rate = svgs["chart-visit_pass_rate"]
    assert [r.get("data-value") for r in rate.findall(f".//{SVG}rect[@class='data-point']")] == ["0.5", "0"]
    assert [t.text for t in rate.findall(f".//{SVG}g[@class='value-labels']/{SVG}text")] == ["50.0%", "0.0%"]


def _sheet_rows(sheet) -> list[list]:
    return [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]


def test_dashboard_export_holds_the_same_numbers_as_numbers_and_is_audited(app, data):
    admin = login_as(app, "admin")
    response = admin.get(f"/statistics/export.xlsx?start={data['d2']}&end={data['today']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.data))
    assert len(book.sheetnames) == 12
    sheet = book["各营业部开户（按开户方式）"]
    rows = _sheet_rows(sheet)
    header = rows.index(["营业部", "现场开户", "见证开户", "合计"])
    assert rows[header + 1:] == [["北京朝阳门营业部", 2, 1, 3], ["上海浦东营业部", 0, 2, 2], ["合计", 2, 3, 5]]
    assert ["统计期", f"{data['d2']} 至 {data['today']}（北京时间，含首尾）", None, None] in rows
    rate_rows = _sheet_rows(book["回访通过率（按营业部）"])
    assert rate_rows[-1] == ["合计", 2, 1, 1, 1, 5, 0.4]
    rate_cell = book["回访通过率（按营业部）"].cell(row=len(rate_rows), column=7)
    assert rate_cell.number_format == "0.0%"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "statistics.export"))
        assert event.object_id == "dashboard"
        assert event.detail["start"] == str(data["d2"]) and "branch" not in event.detail
        assert len(event.detail["figures"]) == 12


def test_one_figure_export_for_a_manager_keeps_to_the_branch(app, data):
    manager = login_as(app, "manager")
    response = manager.get("/statistics/customers_by_risk.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["现有客户风险承受能力等级"]
    rows = _sheet_rows(book.active)
    assert ["北京朝阳门营业部", 1, 0, 0, 2, 0, 0, 1, 4] in rows
    assert not any("上海" in str(cell) for row in rows for cell in row if cell)
    assert ["统计期", "当前（不受统计期影响）"] + [None] * 7 in rows
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "statistics.export"))
        assert (event.object_id, event.actor_name) == ("customers_by_risk", "manager")


def test_unknown_figure_export_is_not_found(app):
    assert login_as(app, "admin").get("/statistics/nothing.xlsx").status_code == 404


def test_export_with_a_bad_period_is_refused(app):
    response = login_as(app, "admin").get("/statistics/export.xlsx?start=2026-11-10&end=2026-11-01")
    assert response.status_code == 400
    assert "统计期或营业部有误" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["clerk", "reviewer", "witness", "marketing", "visitor", "archivist", "clerk_sh"])
@pytest.mark.parametrize("url", ["/statistics/", "/statistics/export.xlsx", "/statistics/openings_daily.xlsx"])
def test_only_branch_managers_and_hq_see_statistics(app, username, url):
    assert login_as(app, username).get(url).status_code == 403


def test_statistics_need_login(client):
    response = client.get("/statistics/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_dashboard_view_is_audited_with_the_selection_only(app, data):
    admin = login_as(app, "admin")
    admin.get(f"/statistics/?start={data['d2']}&end={data['d1']}&branch=0101")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "statistics.view"))
        assert event.detail == {"start": str(data["d2"]), "end": str(data["d1"]), "branch": "0101"}


def test_approval_puts_the_latest_assessment_class_on_the_customer(app, auth):
    from blueprints.opening.models import SuitabilityAssessment
    from tests.requests.test_home import approve, submit

    auth.login()
    reference = submit(app, auth, "clerk", "stats-risk", "101")
    approve(app, reference)
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        latest = db.session.scalar(select(SuitabilityAssessment).where(SuitabilityAssessment.application_id == application.id)
                                   .order_by(SuitabilityAssessment.id.desc()).limit(1))
        customer = db.session.get(Customer, application.customer_id)
        assert latest is not None and customer.risk_class == latest.investor_class
        assert customer.risk_lowest == latest.is_lowest
