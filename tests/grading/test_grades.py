"""Grades: recomputed from imported data by the rules table; each change recorded with its figures."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.grading import services
from blueprints.grading.models import CustomerGrade, GradeChange, GradeRule, Notification
from core.extensions import db
from tests.grading.support import (DEMO_CUSTOMER, HOLDING_HEADER, PRICE_HEADER, csv_bytes, customer_id, job_id_of,
                                   trading_days, upload)
from tests.requests.helpers import login_as, page_of

DAYS = trading_days(20, date(2026, 11, 30))


def add_rules(app):
    with app.app_context():
        for grade, precedence, average in (("diamond", 10, "10000000"), ("gold", 30, "1000000"),
                                           ("silver", 40, "100000")):
            db.session.add(GradeRule(grade=grade, precedence=precedence, min_average_assets=Decimal(average)))
        db.session.commit()


def load_market(admin, closes):
    rows = [PRICE_HEADER] + [["600000", day.isoformat(), close, "否", "J66"] for day, close in zip(DAYS, closes)]
    job_id_of(upload(admin, "prices", csv_bytes(rows), "prices.csv"))


def hold(admin, quantity):
    job_id_of(upload(admin, "holdings", csv_bytes([HOLDING_HEADER, [DEMO_CUSTOMER, "", "600000", str(quantity)]]),
                     "h.csv"))


def test_recompute_records_the_change_with_its_figures_and_tells_the_branch_manager(app):
    with app.app_context():  # a customer nobody serves: the branch manager hears of the change
        from blueprints.managers.models import CustomerAssignment

        db.session.execute(CustomerAssignment.__table__.delete())
        db.session.commit()
    add_rules(app)
    admin = login_as(app, "admin")
    # 10 000 shares: 19 days at 10.00 and the last at 12.00 → average 101 000.00, total 120 000.00: silver.
    load_market(admin, ["10.00"] * 19 + ["12.00"])
    hold(admin, 10000)
    with app.app_context():
        summary = services.recompute(today=date(2026, 12, 1))
        db.session.commit()
    assert summary.day == DAYS[-1] and summary.changed == 1
    with app.app_context():
        cid = customer_id(app, DEMO_CUSTOMER)
        change = db.session.scalar(select(GradeChange).where(GradeChange.customer_id == cid))
        assert (change.from_grade, change.to_grade) == (None, "silver")
        assert change.figures["average_assets"] == "101000.00" and change.figures["total_assets"] == "120000.00"
        assert change.figures["valued_on"] == "2026-11-30" and "≥ 100000" in change.rule_text
        manager = db.session.scalar(select(Staff).where(Staff.username == "manager"))
        note = db.session.scalar(select(Notification).where(Notification.recipient_id == manager.id))
        assert "银卡" in note.text and DEMO_CUSTOMER in note.text
    assert "银卡" in login_as(app, "manager").get("/").get_data(as_text=True)


def test_band_edge_and_a_second_change(app):
    add_rules(app)
    admin = login_as(app, "admin")
    load_market(admin, ["10.00"] * 20)
    hold(admin, 9999)  # 99 990.00: below silver's 100 000
    with app.app_context():
        services.recompute(today=date(2026, 12, 1))
        db.session.commit()
        assert db.session.get(CustomerGrade, customer_id(app, DEMO_CUSTOMER)).grade == "normal"
    hold(admin, 10000)  # exactly 100 000.00
    with app.app_context():
        services.recompute(today=date(2026, 12, 1))
        services.recompute(today=date(2026, 12, 1))  # nothing new: no second record
        db.session.commit()
        changes = db.session.execute(select(GradeChange.from_grade, GradeChange.to_grade)
                                     .order_by(GradeChange.id)).all()
    assert [tuple(c) for c in changes] == [(None, "normal"), ("normal", "silver")]


def test_hq_recomputes_one_customer_from_the_page_and_sees_the_history(app):
    add_rules(app)
    admin = login_as(app, "admin")
    load_market(admin, ["100.00"] * 20)
    hold(admin, 20000)  # 2 000 000.00: gold
    response = admin.post("/grading/recompute/customer", {"customer_no": DEMO_CUSTOMER})
    assert response.status_code == 303
    html = admin.get(f"/customers/{DEMO_CUSTOMER}").get_data(as_text=True)
    assert 'id="customer-grade"' in html and "金卡" in html
    assert 'id="grade-history"' in html and "2,000,000.00" in html
    assert 'id="valued-holdings"' in html and "估值日收盘价" in html


def test_rules_are_edited_by_hq_only_with_inline_errors(app):
    add_rules(app)
    with app.app_context():
        rule_id = db.session.scalar(select(GradeRule.id).where(GradeRule.grade == "silver"))
    assert login_as(app, "manager").get("/grading/rules").status_code == 403
    assert login_as(app, "clerk").post("/grading/recompute").status_code in (400, 403)
    admin = login_as(app, "admin")
    bad = admin.post(f"/grading/rules/{rule_id}", {f"rule{rule_id}-grade": "silver", f"rule{rule_id}-precedence": "x",
                                                   f"rule{rule_id}-min_average_assets": "-5"})
    assert bad.status_code == 422
    page = page_of(bad)
    assert page.errors_for(f"rule{rule_id}-precedence") == ["请填写整数"]
    assert page.errors_for(f"rule{rule_id}-min_average_assets") == ["不能为负数"]
    good = admin.post(f"/grading/rules/{rule_id}", {f"rule{rule_id}-grade": "silver", f"rule{rule_id}-precedence": "40",
                                                    f"rule{rule_id}-min_average_assets": "50000",
                                                    f"rule{rule_id}-enabled": "y"})
    assert good.status_code == 303
    with app.app_context():
        assert db.session.get(GradeRule, rule_id).min_average_assets == Decimal("50000")


def test_the_customer_page_of_another_branch_is_not_recomputed_by_branch_staff(app):
    assert login_as(app, "manager").post("/grading/recompute/customer",
                                         {"customer_no": DEMO_CUSTOMER}).status_code in (400, 403)


def test_cli_recompute(app):
    add_rules(app)
    admin = login_as(app, "admin")
    load_market(admin, ["10.00"] * 20)
    hold(admin, 100000)
    result = app.test_cli_runner().invoke(args=["grading", "recompute"])
    assert result.exit_code == 0, result.output
    assert "1 grade changes" in result.output or "grade changes" in result.output
    with app.app_context():
        change = db.session.scalar(select(GradeChange))
        assert change.to_grade == "gold" and change.trigger == "schedule"
