"""The landing page after login (工作台), with the work each role has waiting, and the lists behind it."""
from flask import Blueprint, abort
from flask_login import current_user

from blueprints.grading.services import unread_notifications
from blueprints.home import durations, navigation, services
from blueprints.opening import progress
from blueprints.opening import services as opening_services
from blueprints.reminders.routes import card_for as reminder_card
from core import audit
from core.render import page
from core.roles import OPENING_ROLES, Role
from core.security import roles_required
from core.timeutil import business_today, utcnow

bp = Blueprint("home", __name__)

# Who sees which application lists: their own applications, or the branch's queues.
MINE_ROLES = frozenset(OPENING_ROLES)
BRANCH_ROLES = frozenset({Role.BRANCH_MANAGER, Role.HQ_ADMIN})


@bp.app_context_processor
def header_navigation():
    """Give every page the header menu of the signed-in staff member's role."""
    if not current_user.is_authenticated:
        return {}
    return {"navigation": navigation.nav_for(current_user.role)}


@bp.app_template_filter("waited")
def waited(since):
    """How long ago `since` was, in words ("3 天 2 小时")."""
    return durations.waited_label(since, utcnow())


@bp.route("/")
@roles_required(*Role)
def index():
    """Show the staff member's workbench: counts of the work waiting and the oldest item of each."""
    # The reminder card first: counting it (when the kept one is stale) turns this read into a write,
    # which expires what was loaded before.
    reminders = reminder_card(current_user) or {"reminders": None}
    role, context = current_user.role, {}
    if role in MINE_ROLES:
        context.update(queues=services.my_queues(current_user), returned=services.returned_to(current_user),
                       todo=opening_services.my_todo(current_user))
    elif role == Role.REVIEWER:
        context.update(queues=services.branch_queues(current_user, ("in_review",)))
    elif role == Role.RETURN_VISIT:
        context.update(queues=services.branch_queues(current_user, ("return_visit",)),
                       called=services.called_not_reached(current_user))
    elif role == Role.ARCHIVIST:
        lending, latest_lending = services.recent_lending(current_user)
        context.update(exports=services.export_jobs(current_user), last_export=services.last_finished_export(current_user),
                       lending=lending, latest_lending=latest_lending, lending_days=services.LENDING_DAYS)
    elif role in BRANCH_ROLES:
        counts = services.branch_counts(current_user)
        queues = services.branch_queues(current_user, per_branch=counts[0])
        exception_queues = services.branch_exceptions(current_user, per_branch=counts[1])
        total, lines = services.branch_figures(current_user, counts)
        context.update(queues=queues, exceptions=exception_queues, total=total, lines=lines,
                       longest=services.longest_waiting({k: queues[k] for k in ("in_review", "return_visit")},
                                                        exception_queues),
                       pass_rate_days=services.PASS_RATE_DAYS, today=business_today(),
                       escalated_visits=services.escalated_visits(current_user))
    context["notifications"] = notifications = unread_notifications(current_user)
    if notifications:
        audit.record("notifications.view", "customer", None, notices=len(notifications),
                     customers=sorted({n.customer.customer_no for n in notifications if n.customer})[:50])
    return page("home/index.html", **reminders, **context)


@bp.route("/work/<key>")
@roles_required(*MINE_ROLES, *BRANCH_ROLES)
def queue(key: str):
    """List one queue's applications, longest waiting first: the clerk's own, or the branch's for a manager."""
    mine = current_user.role in MINE_ROLES
    if key not in (services.MY_QUEUES if mine else services.BRANCH_QUEUES):
        abort(404)
    rows = services.queue_rows(current_user, key, mine, limit=services.LIST_LIMIT)
    audit.record("home.queue_list", None, None, queue=key, rows=len(rows))
    return page("home/queue.html", key=key, rows=rows, mine=mine, limit=services.LIST_LIMIT,
                progress=progress.of(row[0] for row in rows))


@bp.route("/health")
def health():
    """Report liveness for load balancers (no data, no login)."""
    return {"status": "ok"}
