"""Helpers of the managers and service tests: customers assigned to managers, moving the business day."""
import secrets
from datetime import date

from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.managers import services as managers
from blueprints.reminders import registry as reminders_registry
from blueprints.service import services as service
from core.extensions import db

DEMO_CUSTOMER = "C0101000001"


def set_today(monkeypatch, day: date) -> None:
    """Move the business day that assignments and deadlines are read on."""
    monkeypatch.setattr(managers, "today", lambda: day)
    monkeypatch.setattr(service, "today", lambda: day)
    # The home page's reminder card reads the deadlines on the registry's day.
    monkeypatch.setattr(reminders_registry, "business_day", lambda: day)


def make_customers(app, count: int, manager: str | None = "cmanager", branch_code: str = "0101") -> list[str]:
    """Create `count` customers of the branch, assigned to `manager` from today; return their numbers."""
    numbers = []
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
        staff = db.session.scalar(select(Staff).where(Staff.username == manager)) if manager else None
        boss = db.session.scalar(select(Staff).where(Staff.username == "manager"))
        for index in range(count):
            number = f"C{branch_code}{secrets.randbelow(10**6):06d}"
            customer = customer_services.create_customer(
                branch=branch, customer_no=number, source="import", actor=None, reason="测试",
                values={"name": f"测试{index}", "id_type": "resident_id", "id_number": f"1101051990010{index:04d}"[:17] + "X"})
            if staff is not None:
                managers.assign(customer, staff, boss, "测试分配")
            numbers.append(number)
        db.session.commit()
    return numbers


def customer_id(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Customer.id).where(Customer.customer_no == number))


def token() -> str:
    return secrets.token_urlsafe(16)
