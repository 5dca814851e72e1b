"""Customers with ID documents and birth dates, made directly in the record for the reminder tests."""
from datetime import date

from sqlalchemy import select

from blueprints.auth.models import Branch
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from core.extensions import db
from tests import factories


def customer_with(app, number: int, *, valid_to: date | None = None, birth: str = "19900307",
                  branch_code: str = "0101", name: str | None = None, kind: str = "current",
                  document: bool = True) -> str:
    """A customer at `branch_code` with one ID document valid until `valid_to`; returns the customer number."""
    id_number = factories.make_id("110105", birth, f"{number % 1000:03d}")
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
        customer = customer_services.create_customer(
            branch=branch, customer_no=f"R{branch_code}{number:06d}", source="import", actor=None, reason="测试",
            kind=kind, values={"name": name or f"测试{number}", "id_type": "resident_id", "id_number": id_number,
                               "birth_date": date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))})
        if document:
            customer_services.add_id_document(customer, {
                "id_type": "resident_id", "id_number": id_number, "name": customer.name,
                "valid_from": date(2010, 1, 1), "valid_to": valid_to}, source="import", actor=None)
        db.session.commit()
        return customer.customer_no


def customer_id(app, customer_no: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
