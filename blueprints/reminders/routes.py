"""One reminder's full list, paged in the database, for the customers the staff member may see."""
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers.routes import CUSTOMER_ROLES
from blueprints.reminders import card, registry, services
from core import audit
from core.db import writes_on_read
from core.render import page
from core.security import roles_required

bp = Blueprint("reminders", __name__, url_prefix="/reminders")

PAGE_SIZE = 50
MAX_PAGE = 10_000


def sees_reminders(user) -> bool:
    return user.role in CUSTOMER_ROLES


def card_for(user, fresh: bool = False) -> dict | None:
    """What the home page's reminder card shows (the reminders, when they were counted), or None for roles
    that do not look after customers."""
    if not sees_reminders(user):
        return None
    found, counted_at = card.card(user, fresh=fresh)
    audit.record("reminders.view", None, None, counts={r.key: r.count for r in found}, counted_at=counted_at.isoformat(),
                 fresh=fresh)
    return {"reminders": found, "reminders_counted_at": counted_at}


@bp.route("/card")
@writes_on_read  # counting keeps the card, and a manager's count escalates overdue complaints
@roles_required(*CUSTOMER_ROLES)
def refresh():
    """Count the home page's reminder card again now (its 刷新): the card alone for htmx, else the home page."""
    shown = card_for(current_user, fresh=True)
    if not request.htmx:
        return redirect(url_for("home.index"))
    return render_template("reminders/_card.html", **shown)


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
