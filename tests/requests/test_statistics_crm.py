"""The CRM figures of the dashboard: grades, service records, complaints (line, channel, deadlines kept) and
handovers, against hand-counted rows; branch scope; charts; the export, audited."""
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bench.dashboard_data import (Ids, complaint_row, crm_ids, customer_row, grade_row, handover_row, insert_rows,
                                  service_record_row)
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer
from blueprints.grading.models import CustomerGrade
from blueprints.managers.models import Handover
from blueprints.service.models import Complaint, ServiceRecord
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import business_today
from tests.requests.helpers import login_as
from tests.requests.test_statistics import SVG, beijing, row_of, tables


@pytest.fixture
def crm(app):
    """Beijing (0101): the demo customer (ungraded) + gold, normal, normal-but-historical (not counted) and a
    potential customer (ungraded); 3 consultations/calls and 5 complaints in the period, 1 complaint 40 days ago.
    Complaints: on time (closed 23:30 Beijing on its due day), late (closed the day after its due day), open and
    overdue, open and in time, open with its first contact overdue. Shanghai (0201): 1 silver customer, 1 complaint
    open in time, 1 visit. Handovers: Beijing pending + approved in the period, approved 40 days ago; Shanghai
    rejected."""
    today = business_today()
    d1, d2, d40 = today - timedelta(days=1), today - timedelta(days=2), today - timedelta(days=40)
    with app.app_context():
        bj = db.session.scalar(select(Branch).where(Branch.code == "0101")).id
        sh = db.session.scalar(select(Branch).where(Branch.code == "0201")).id
        staff = db.session.scalar(select(Staff.id).where(Staff.username == "cmanager"))
        ids = crm_ids(Ids.after_existing())
        customers = [customer_row(ids, bj, "current"), customer_row(ids, bj, "current"),
                     customer_row(ids, bj, "historical"), customer_row(ids, bj, "potential"),
                     customer_row(ids, sh, "current")]
        c = [row["id"] for row in customers]
        grades = [grade_row(c[0], "gold", today), grade_row(c[1], "normal", today), grade_row(c[2], "normal", today),
                  grade_row(c[4], "silver", today)]
        for row in grades:  # grading keeps the grade on the customer too
            next(customer for customer in customers if customer["id"] == row["customer_id"])["grade"] = row["grade"]

        def record(customer, branch, kind, status, created, closed=None):
            return service_record_row(ids, customer, branch, staff, kind, status, created, closed)

        records = [record(c[0], bj, "consultation", "closed", beijing(d1), beijing(d1, 15)),
                   record(c[0], bj, "consultation", "open", beijing(d1)),
                   record(c[1], bj, "call", "closed", beijing(d2), beijing(d2, 13)),
                   record(c[0], bj, "consultation", "closed", beijing(d40), beijing(d40, 13)),
                   record(c[4], sh, "visit", "closed", beijing(d1), beijing(d1, 14))]
        complaint_records = [
            (record(c[0], bj, "complaint", "closed", beijing(d2), beijing(d1, 23, 30)), "phone", "brokerage", d2, d1, None),
            (record(c[1], bj, "complaint", "closed", beijing(d2), beijing(d1, 0, 30)), "csrc_12386", "brokerage", d2, d2, None),
            (record(c[0], bj, "complaint", "in_progress", beijing(d2)), "counter", "account", d2, d1, beijing(d2, 15)),
            (record(c[1], bj, "complaint", "in_progress", beijing(d1)), "phone", "margin", d1, today + timedelta(days=10),
             beijing(d1, 15)),
            (record(c[1], bj, "complaint", "open", beijing(d2)), "phone", "account", d2, today + timedelta(days=10), None),
            (record(c[0], bj, "complaint", "closed", beijing(d40), beijing(d40, 15)), "phone", "brokerage", d40,
             d40 + timedelta(days=15), None),
            (record(c[4], sh, "complaint", "in_progress", beijing(d1)), "letter", "other", d1, today + timedelta(days=10),
             beijing(d1, 15))]
        complaints = []
        for row, channel, category, received, due, contacted in complaint_records:
            # The open one without first contact: its first-contact deadline (the day it came in) has passed.
            complaints.append(complaint_row(ids, row["id"], channel, category, received, due, received, contacted, staff))
        handovers = [handover_row(ids, bj, staff, "pending", beijing(d1)), handover_row(ids, bj, staff, "approved", beijing(d2)),
                     handover_row(ids, bj, staff, "approved", beijing(d40)), handover_row(ids, sh, staff, "rejected", beijing(d1))]
        insert_rows(Customer, customers)
        insert_rows(CustomerGrade, grades)
        insert_rows(ServiceRecord, records + [row for row, *_rest in complaint_records])
        insert_rows(Complaint, complaints)
        insert_rows(Handover, handovers)
        db.session.commit()
    return {"today": today, "d1": d1, "d2": d2}


def test_branch_manager_sees_the_branchs_crm_figures(app, crm):
    response = login_as(app, "manager").get("/statistics/")
    assert response.status_code == 200
    t = tables(response)
    grades = t["customers_by_grade"]
    assert grades[0] == ["营业部", "普通", "银卡", "金卡", "白金", "钻石", "未评级", "合计"]
    # Demo customer and the potential one ungraded, the historical one left out.
    assert grades[1] == ["北京朝阳门营业部", "1", "0", "1", "0", "0", "2", "4"]
    records = t["service_records_by_kind"]
    assert records[0] == ["服务类型", "待处理", "处理中", "已办结", "合计"]
    assert row_of(records, "咨询") == ["咨询", "1", "0", "1", "2"]
    assert row_of(records, "投诉") == ["投诉", "1", "2", "2", "5"]
    assert row_of(records, "电话") == ["电话", "0", "0", "1", "1"]
    assert records[-1] == ["合计", "2", "2", "4", "8"]
    lines = t["complaints_by_channel"]
    assert lines[0] == ["业务条线", "柜台", "电话", "信函", "12386转办", "合计"]
    assert row_of(lines, "经纪业务") == ["经纪业务", "0", "1", "0", "1", "2"]
    assert row_of(lines, "账户业务") == ["账户业务", "1", "1", "0", "0", "2"]
    assert lines[-1] == ["合计", "1", "3", "0", "1", "5"]
    deadlines = t["complaints_by_deadline"]
    assert deadlines[0] == ["营业部", "按期办结", "超期办结", "未办结·已超期", "未办结·未到期", "合计"]
    # The open one whose first contact is overdue counts as overdue although its resolution is not due yet.
    assert deadlines[1] == ["北京朝阳门营业部", "1", "1", "2", "1", "5"]
    handovers = t["handovers_by_status"]
    assert handovers[0] == ["营业部", "待审核", "审核通过", "审核退回", "已撤回", "合计"]
    assert handovers[1] == ["北京朝阳门营业部", "1", "1", "0", "0", "2"]
    assert "上海浦东营业部" not in response.get_data(as_text=True)


def test_hq_sees_every_branch_or_the_one_it_chose(app, crm):
    admin = login_as(app, "admin")
    t = tables(admin.get("/statistics/"))
    assert row_of(t["customers_by_grade"], "上海浦东营业部") == ["上海浦东营业部", "0", "1", "0", "0", "0", "0", "1"]
    assert row_of(t["complaints_by_deadline"], "上海浦东营业部") == ["上海浦东营业部", "0", "0", "0", "1", "1"]
    assert t["complaints_by_deadline"][-1] == ["合计", "1", "1", "2", "2", "6"]
    assert row_of(t["handovers_by_status"], "上海浦东营业部") == ["上海浦东营业部", "0", "0", "1", "0", "1"]
    assert row_of(t["service_records_by_kind"], "拜访")[-1] == "1"
    only = tables(admin.get("/statistics/?branch=0201"))
    assert [row[0] for row in only["handovers_by_status"]] == ["营业部", "上海浦东营业部", "合计"]
    assert only["complaints_by_channel"][-1] == ["合计", "0", "0", "1", "0", "1"]


def test_the_period_moves_the_counts_but_not_the_grades(app, crm):
    manager = login_as(app, "manager")
    day = crm["d1"]
    t = tables(manager.get(f"/statistics/?start={day}&end={day}"))
    assert t["service_records_by_kind"][-1][-1] == "3"  # two consultations and one complaint came in yesterday
    assert t["complaints_by_deadline"][1] == ["北京朝阳门营业部", "0", "0", "0", "1", "1"]
    assert t["handovers_by_status"][1][-1] == "1"
    assert t["customers_by_grade"][1][-1] == "4"


def test_crm_charts_are_drawn_with_one_mark_per_data_point(app, crm):
    html = login_as(app, "manager").get("/statistics/").get_data(as_text=True)
    start = html.index('id="chart-complaints_by_deadline"')
    svg = html[html.rindex("<svg", 0, start):html.index("</svg>", start) + len("</svg>")]
    bars = ET.fromstring(svg).findall(f".//{SVG}rect[@class='data-point']")
    assert len(bars) == 4  # one branch, four states
    assert [b.get("data-value") for b in bars] == ["1", "1", "2", "1"]


def test_a_crm_figure_export_keeps_to_the_branch_and_is_audited(app, crm):
    response = login_as(app, "manager").get("/statistics/complaints_by_deadline.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["投诉办结时限（按营业部）"]
    rows = [list(row) for row in book.active.iter_rows(values_only=True)]
    assert ["北京朝阳门营业部", 1, 1, 2, 1, 5] in rows
    assert not any("上海" in str(cell) for row in rows for cell in row if cell)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "statistics.export"))
        assert (event.object_id, event.actor_name) == ("complaints_by_deadline", "manager")


@pytest.mark.parametrize("username", ["clerk", "cmanager", "broker", "archivist"])
def test_crm_figures_are_for_branch_managers_and_hq_only(app, username):
    assert login_as(app, username).get("/statistics/customers_by_grade.xlsx").status_code == 403
