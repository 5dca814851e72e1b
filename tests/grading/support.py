"""Helpers for grading tests: files to upload, imports through the screen, a second customer."""
import csv
import io
import re
from datetime import date, timedelta

from openpyxl import Workbook
from sqlalchemy import select

from blueprints.customers.models import Customer
from core.extensions import db
from tests.factories import existing_customer

DEMO_CUSTOMER = "C0101000001"  # 张建国, 北京朝阳门营业部


def trading_days(count: int, last: date) -> list[date]:
    days, day = [], last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def csv_bytes(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(auth, kind: str, data: bytes, name: str):
    page = auth.get("/grading/imports").get_data(as_text=True)
    token = re.search(r'name="client_token" type="hidden" value="([^"]+)"', page)
    token = token.group(1) if token else ""
    return auth.post("/grading/imports", {"kind": kind, "client_token": token, "file": (io.BytesIO(data), name)},
                     content_type="multipart/form-data")


def job_id_of(response) -> int:
    location = response.headers.get("Location") or response.headers.get("HX-Redirect")
    assert location, response.get_data(as_text=True)[:2000]
    return int(location.rstrip("/").split("/")[-1])


def shanghai_customer(app, customer_no="C0201000009") -> str:
    from blueprints.auth.models import Branch

    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == "0201"))
        existing_customer(customer_no, branch.id, "欧阳明", "310101199001011237")
        db.session.commit()
    return customer_no


def customer_id(app, customer_no: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))


PRICE_HEADER = ["证券代码", "日期", "收盘价", "停牌", "行业代码"]
HOLDING_HEADER = ["客户号", "资金账号", "证券代码", "持仓数量", "成本价", "持仓类型", "上市流通代码", "锁定期开始日", "锁定期结束日"]
