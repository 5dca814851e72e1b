"""The landing page after login, with the work each role has waiting."""
from flask import Blueprint
from flask_login import current_user

from blueprints.opening import services as opening_services
from core.render import page
from core.roles import Role

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Show the staff member's workbench."""
    drafts = opening_services.my_open_applications(current_user) if current_user.role == Role.CLERK else []
    return page("home/index.html", drafts=drafts)


@bp.route("/health")
def health():
    """Report liveness for load balancers (no data, no login)."""
    return {"status": "ok"}
