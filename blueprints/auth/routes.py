"""Login and logout."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from blueprints.auth import services, sessions
from blueprints.auth.forms import LoginForm
from core import audit
from core.render import page
from core.security import any_staff

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths, so the login page cannot bounce users elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log a staff member in."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "POST":
        if form.validate_on_submit():
            result = services.authenticate(form.username.data, form.password.data)
            if result.staff is not None:
                sessions.start(result.staff)
                login_user(result.staff)
                if result.notice:
                    flash(result.notice, "warning")
                return redirect(_safe_next(request.args.get("next")), code=303)
            form.password.errors.append(result.error)
            response = page("auth/login.html", form=form, status=result.status)
            if result.retry_after:
                response.headers["Retry-After"] = str(result.retry_after)
            return response
        return page("auth/login.html", form=form, status=422)
    return page("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@any_staff
def logout():
    """Log out: the session ends on the server, so a copy of its cookie opens nothing."""
    audit.record("auth.logout")
    sessions.end_current("logout")
    logout_user()
    flash("已安全退出", "info")
    return redirect(url_for("auth.login"), code=303)
