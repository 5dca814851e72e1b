"""Changes to customer information (资料变更): entry, same-terminal review, applying, syncing, refusals."""
from sqlalchemy import func, select

from blueprints.customers.change_workflow import OPEN
from blueprints.customers.models import CustomerChange
from core.extensions import db


def open_change_count(customer_id: int) -> int:
    """How many of the customer's change businesses are not finished (closure waits for them)."""
    return db.session.scalar(select(func.count()).select_from(CustomerChange).where(
        CustomerChange.customer_id == customer_id, CustomerChange.status.in_(OPEN))) or 0
