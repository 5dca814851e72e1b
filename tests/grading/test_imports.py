"""Imports: a file with a bad row changes nothing and names the row; a good one swaps in whole."""
from datetime import date

from sqlalchemy import func, select

from blueprints.grading import imports
from blueprints.grading.models import Holding, ImportJob, ImportRowError, SecurityPrice, TradingDay
from core.extensions import db
from core.models import AuditEvent
from tests.grading.support import (DEMO_CUSTOMER, HOLDING_HEADER, PRICE_HEADER, csv_bytes, job_id_of,
                                   shanghai_customer, upload, xlsx_bytes)
from tests.requests.helpers import login_as, page_of

PRICES = [PRICE_HEADER, ["600000", "2026-11-27", "10.00", "否", "J66"], ["600000", "2026-11-30", "10.50", "否", "J66"]]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row(app):
    admin = login_as(app, "admin")
    assert upload(admin, "prices", csv_bytes(PRICES), "prices.csv").status_code == 303
    before = count(app, SecurityPrice)
    rows = [PRICE_HEADER, ["600000", "2026-12-01", "10.80", "否", "J66"], ["600036", "2026-12-01", "abc", "否", "J66"],
            ["60003", "2026-12-01", "30", "", ""], ["600000", "2026-12-01", "10.90", "否", "J66"]]
    response = upload(admin, "prices", csv_bytes(rows), "prices.csv")
    job_id = job_id_of(response)
    html = admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    assert "有错误行，未导入" in html
    assert "第 3 行" in html and "收盘价“abc”不是数字" in html
    assert "第 4 行" in html and "证券代码“60003”格式不正确" in html
    assert "第 5 行" in html and "与第 2 行重复" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    assert count(app, SecurityPrice) == before == 2
    with app.app_context():
        assert db.session.get(TradingDay, date(2026, 12, 1)) is None
        assert db.session.scalar(select(func.count()).select_from(ImportRowError)
                                 .where(ImportRowError.job_id == job_id)) == 3
    download = admin.get(f"/grading/imports/{job_id}/errors.csv")
    text = download.get_data(as_text=True)
    assert download.status_code == 200 and text.startswith("\ufeff行号,原因,原始内容")
    assert "3,收盘价“abc”不是数字" in text


def test_fixed_file_imports_and_derives_trading_days(app):
    admin = login_as(app, "admin")
    job_id = job_id_of(upload(admin, "prices", csv_bytes(PRICES), "prices.csv"))
    assert "已导入 2 行" in admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    with app.app_context():
        assert sorted(db.session.scalars(select(TradingDay.day))) == [date(2026, 11, 27), date(2026, 11, 30)]
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "grading.import_end")) == 1
    # The same days again replace, not duplicate.
    again = [PRICE_HEADER, ["600000", "2026-11-30", "10.60", "否", "J66"]]
    job_id_of(upload(admin, "prices", csv_bytes(again), "again.csv"))
    with app.app_context():
        closes = dict(db.session.execute(select(SecurityPrice.day, SecurityPrice.close)).all())
    assert str(closes[date(2026, 11, 30)]).startswith("10.6") and len(closes) == 2


def test_holdings_from_xlsx_replace_all_holdings(app):
    admin = login_as(app, "admin")
    rows = [HOLDING_HEADER, [DEMO_CUSTOMER, None, "600000", 1000, 9.8, "上市流通", None, None, None],
            [DEMO_CUSTOMER, None, "600001", 500, 10, "非公开发行锁定期内", "600000", date(2026, 6, 1), date(2027, 5, 31)]]
    job_id = job_id_of(upload(admin, "holdings", xlsx_bytes(rows), "holdings.xlsx"))
    assert "已导入 2 行" in admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    job_id_of(upload(admin, "holdings", xlsx_bytes(rows[:2]), "holdings.xlsx"))
    with app.app_context():
        held = db.session.execute(select(Holding.security_code, Holding.quantity)).all()
    assert [(code, int(quantity)) for code, quantity in held] == [("600000", 1000)]


def test_holdings_with_an_unknown_customer_import_nothing(app):
    admin = login_as(app, "admin")
    rows = [HOLDING_HEADER, [DEMO_CUSTOMER, "", "600000", "1000", "", "", "", "", ""],
            ["C9999999999", "", "600000", "10", "", "", "", "", ""]]
    job_id = job_id_of(upload(admin, "holdings", csv_bytes(rows), "h.csv"))
    html = admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    assert "第 3 行" in html and "客户号“C9999999999”不存在" in html
    assert count(app, Holding) == 0


def test_a_missing_column_is_reported_on_the_header_row(app):
    admin = login_as(app, "admin")
    job_id = job_id_of(upload(admin, "prices", csv_bytes([["证券代码", "日期"], ["600000", "2026-11-30"]]), "p.csv"))
    html = admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    assert "第 1 行" in html and "缺少列：收盘价" in html


def test_wrong_file_type_is_refused_next_to_the_field(app):
    admin = login_as(app, "admin")
    response = upload(admin, "prices", b"%PDF-1.4", "prices.pdf")
    assert response.status_code == 422
    assert page_of(response).errors_for("file") == ["只能导入 CSV（.csv）或 Excel（.xlsx）文件"]
    response = upload(admin, "holdings", b"not a zip", "h.xlsx")
    assert response.status_code == 422 and "不是 Excel" in response.get_data(as_text=True)


def test_gb18030_csv_is_read(app):
    admin = login_as(app, "admin")
    data = "证券代码,日期,收盘价\n600000,2026-11-30,10.5\n".encode("gb18030")
    job_id = job_id_of(upload(admin, "prices", data, "p.csv"))
    assert "已导入 1 行" in admin.get(f"/grading/imports/{job_id}").get_data(as_text=True)


def test_progress_endpoint_polls_until_the_job_ends(app):
    from blueprints.auth.models import Staff

    with app.app_context():
        admin_staff = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        import io
        job = imports.start_import(admin_staff, "prices", "p.csv", io.BytesIO(csv_bytes(PRICES)), 10 ** 6)
        db.session.commit()
        job_id = job.id
    admin = login_as(app, "admin")
    fragment = admin.get(f"/grading/imports/{job_id}", htmx=True)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and html.lstrip().startswith('<div id="import-progress"')
    assert 'hx-trigger="every 1s"' in html and "等待处理" in html and "0%" in html
    with app.app_context():
        imports.run_import(job_id)
    html = admin.get(f"/grading/imports/{job_id}", htmx=True).get_data(as_text=True)
    assert "导入完成" in html and "100%" in html and "every 1s" not in html


def test_a_double_submit_makes_one_job(app):
    import io
    import re

    admin = login_as(app, "admin")
    token = re.search(r'name="client_token" type="hidden" value="([^"]+)"',
                      admin.get("/grading/imports").get_data(as_text=True)).group(1)
    for _ in range(2):
        response = admin.post("/grading/imports", {"kind": "prices", "client_token": token,
                                                   "file": (io.BytesIO(csv_bytes(PRICES)), "p.csv")},
                              content_type="multipart/form-data")
        assert response.status_code == 303
    assert count(app, ImportJob) == 1


def test_only_hq_and_branch_managers_import(app):
    for username in ("clerk", "reviewer", "archivist"):
        assert login_as(app, username).get("/grading/imports").status_code == 403


def test_branch_manager_imports_only_their_branch_holdings(app):
    other = shanghai_customer(app)
    admin = login_as(app, "admin")
    job_id_of(upload(admin, "holdings", csv_bytes([HOLDING_HEADER, [other, "", "600000", "300"]]), "sh.csv"))
    manager = login_as(app, "manager")
    assert upload(manager, "prices", csv_bytes(PRICES), "p.csv").status_code == 422  # not theirs to import
    rows = [HOLDING_HEADER, [DEMO_CUSTOMER, "", "600000", "100"], [other, "", "600000", "200"]]
    job_id = job_id_of(upload(manager, "holdings", csv_bytes(rows), "h.csv"))
    html = manager.get(f"/grading/imports/{job_id}").get_data(as_text=True)
    assert "第 3 行" in html and "不属于本营业部" in html
    job_id = job_id_of(upload(manager, "holdings", csv_bytes(rows[:2]), "h.csv"))
    with app.app_context():
        held = sorted(int(q) for q in db.session.scalars(select(Holding.quantity)))
    assert held == [100, 300]  # Shanghai's holding untouched by the Beijing manager's file
    with app.app_context():
        first_job = db.session.scalar(select(func.min(ImportJob.id)))
    assert manager.get(f"/grading/imports/{first_job}").status_code == 404  # HQ's job is not the branch's
