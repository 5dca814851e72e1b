"""The landing page after login, with the work each role has waiting."""
from flask import Blueprint
from flask_login import current_user

from blueprints.opening import services as opening_services
from blueprints.return_visit import services as return_visit_services
from blueprints.review import services as review_services
from core.render import page
from core.roles import Role

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Show the staff member's workbench."""
    todo = opening_services.my_todo(current_user) if current_user.role in opening_services.OPENING_ROLES else []
    waiting = 0
    if current_user.role == Role.REVIEWER:
        waiting = len(review_services.queue(current_user))
    elif current_user.role == Role.RETURN_VISIT:
        waiting = len(return_visit_services.queue(current_user))
    return page("home/index.html", todo=todo, waiting=waiting)


@bp.route("/health")
def health():
    """Report liveness for load balancers (no data, no login)."""
    return {"status": "ok"}
