"""One reminder's full list, paged in the database, for the customers the staff member may see."""
from flask import Blueprint, abort, request
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers.routes import CUSTOMER_ROLES
from blueprints.reminders import registry, services
from core import audit
from core.render import page
from core.security import roles_required

bp = Blueprint("reminders", __name__, url_prefix="/reminders")

PAGE_SIZE = 50
MAX_PAGE = 10_000


def sees_reminders(user) -> bool:
    return user.role in CUSTOMER_ROLES


def card_for(user) -> list[registry.Reminder] | None:
    """What the home page's reminder card shows, or None for roles that do not look after customers."""
    if not sees_reminders(user):
        return None
    found = registry.reminders_for(user)
    audit.record("reminders.view", None, None, counts={r.key: r.count for r in found})
    return found


@bp.route("/<key>")
@roles_required(*CUSTOMER_ROLES)
def listing(key: str):
    """List one reminder's customers, most urgent first, a page at a time."""
    source = registry.source(key)
    if source is None:
        abort(404)
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and 0 < int(number) <= MAX_PAGE else 1
    today = registry.business_day()
    registry.prepare(source, current_user, today)
    count = source.count(current_user, today)
    rows = source.rows(current_user, today, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    audit.record("reminders.list", None, None, reminder=key, page=number, rows=len(rows))
    pages = max(1, -(-count // PAGE_SIZE))
    return page("reminders/list.html", block="rows", source=source, rows=rows, count=count, number=number,
                pages=pages, page_size=PAGE_SIZE, unit=registry.unit_of(source))


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return {"customer_reminders": registry.for_customer(customer),
            "assessment": services.current_assessment(customer.id)}
