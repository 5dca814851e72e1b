"""Reader pairing screens for HQ, this terminal's reader (本机读卡器), and the API the reader agents post card reads to."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, jsonify, request, url_for
from flask_login import current_user
from core.forms import BaseForm
from sqlalchemy import select
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from blueprints.auth.models import Branch
from blueprints.reader import services
from blueprints.reader.models import ReaderDevice
from core.extensions import csrf, db
from core.render import page, see_other
from core.roles import OPENING_ROLES, Role
from core.security import roles_required

bp = Blueprint("reader", __name__)


class PairForm(BaseForm):
    branch_id = SelectField("营业部", coerce=int, validators=[DataRequired("请选择营业部")])
    label = StringField("设备名称", validators=[DataRequired("请填写设备名称，如“朝阳门柜台3号读卡器”"), Length(max=60, message="设备名称不超过60个字符")])


class RevokeForm(BaseForm):
    pass


def _choice_id(value):
    # Garbage becomes "nothing chosen", so the field shows the Chinese message, not WTForms' English one.
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TerminalForm(BaseForm):
    label = StringField("本机名称", validators=[DataRequired("请填写本机名称，如“平板2号”或“柜台3号机”"),
                                             Length(max=60, message="本机名称不能超过60个字")])
    device = RadioField("读卡器", coerce=_choice_id, validate_choice=False,
                        validators=[DataRequired("请选择要绑定到本机的读卡器")])
    next = HiddenField()


def _pair_form() -> PairForm:
    form = PairForm()
    form.branch_id.choices = [SelectChoice(b.id, b.name) for b in db.session.scalars(select(Branch).order_by(Branch.code))]
    return form


@bp.route("/reader/devices", methods=["GET", "POST"])
@roles_required(Role.HQ_ADMIN)
def devices():
    """List paired readers, and pair a new one (总部赋权)."""
    form = _pair_form()
    secret = new_device = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            new_device, secret = services.pair_device(form.branch_id.data, form.label.data, current_user)
        else:
            status = 422
    return page("reader/devices.html", form=form, revoke_form=RevokeForm(), devices=services.devices(current_user),
                new_device=new_device, secret=secret, status=status)


@bp.route("/reader/devices/<int:device_id>/unpair", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def unpair_device(device_id: int):
    """Take a reader away from the terminal it serves."""
    device = db.session.get(ReaderDevice, device_id)
    if device is None or not RevokeForm().validate_on_submit():
        abort(404)
    if device.terminal is not None:
        services.unpair_terminal(device.terminal, current_user, reason="by headquarters")
    return see_other(url_for("reader.devices"))


@bp.route("/reader/devices/<int:device_id>/revoke", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def revoke(device_id: int):
    """Revoke a reader: its posts are refused from now on."""
    device = db.session.get(ReaderDevice, device_id)
    if device is None or not RevokeForm().validate_on_submit():
        abort(404)
    services.revoke_device(device, current_user)
    return see_other(url_for("reader.devices"))


def _safe_next(target: str | None) -> str | None:
    # Only this site's own paths: the pairing page must not bounce anyone elsewhere.
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not urlsplit(target).netloc and not urlsplit(target).scheme):
        return target
    return None


def _terminal_form(terminal, readers) -> TerminalForm:
    form = TerminalForm()
    form.device.choices = [SelectChoice(d.id, _reader_choice_label(d, terminal)) for d in readers]
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next"))
        if terminal is not None:
            form.label.data = terminal.label
            form.device.data = terminal.device_id if terminal.branch_id == current_user.branch_id else None
    return form


def _reader_choice_label(device, terminal) -> str:
    if device.terminal is None:
        return f"{device.label}（{device.device_id}）未绑定"
    if terminal is not None and device.terminal.id == terminal.id:
        return f"{device.label}（{device.device_id}）已绑定本机"
    return f"{device.label}（{device.device_id}）现绑定于“{device.terminal.label}”，选择后改绑本机"


@bp.route("/reader/terminal", methods=["GET", "POST"])
@roles_required(*OPENING_ROLES)
def terminal():
    """Show this terminal's reader (本机读卡器) and pair it with one of the branch's readers."""
    this = services.terminal_of_browser(request)
    readers = services.pairable_devices(current_user)
    form = _terminal_form(this, readers)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            chosen = next((d for d in readers if d.id == form.device.data), None)
            try:
                this, token = services.pair_terminal(this, chosen, form.label.data, current_user)
            except services.PairingRefused:
                form.device.errors.append("该读卡器不属于本营业部或已吊销，请重新选择")
            else:
                flash(f"本机已绑定读卡器：{chosen.label}（{chosen.device_id}）", "success")
                response = see_other(_safe_next(form.next.data) or url_for("reader.terminal"))
                if token:
                    _set_terminal_cookie(response, token)
                return response
    return page("reader/terminal.html", form=form, this=this, readers=readers, unpair_form=RevokeForm(),
                back=_safe_next(form.next.data), other_branch=this is not None and this.branch_id != current_user.branch_id,
                status=status)


@bp.route("/reader/terminal/unpair", methods=["POST"])
@roles_required(*OPENING_ROLES)
def unpair_terminal():
    """Take the reader away from this terminal."""
    this = services.terminal_for(request)
    if not RevokeForm().validate_on_submit():
        abort(400)
    if this is not None and this.device is not None:
        services.unpair_terminal(this, current_user)
        flash("本机已解除读卡器绑定", "success")
    return see_other(url_for("reader.terminal"))


def _set_terminal_cookie(response, token: str) -> None:
    response.set_cookie(services.TERMINAL_COOKIE, token, max_age=int(services.TERMINAL_COOKIE_MAX_AGE.total_seconds()),
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


@bp.after_app_request
def refresh_terminal_cookie(response):
    # A terminal in daily use keeps its cookie past the browsers' 400-day cap.
    token = g.pop("terminal_cookie_refresh", None)
    if token:
        _set_terminal_cookie(response, token)
    return response


@bp.route("/api/reader/reads", methods=["POST"])
@csrf.exempt  # authenticated by the device's HMAC signature, not by a browser session
def post_read():
    """Accept a signed card read from a paired reader agent."""
    if services.refusals_exceeded(request.remote_addr):
        services.record_rate_limited(request.remote_addr)
        response = jsonify(error="too many requests", message="读卡器请求被拒绝次数过多，请一分钟后再试")
        response.headers["Retry-After"] = str(int(services.REFUSAL_WINDOW.total_seconds()))
        return response, 429
    body = request.get_data(cache=False)
    try:
        read = services.accept_post(request.headers.get("X-Reader-Device", ""),
                                    request.headers.get("X-Reader-Timestamp", ""),
                                    request.headers.get("X-Reader-Signature", ""), body)
    except services.PostRefused as refused:
        db.session.rollback()
        services.record_refusal(refused, request.remote_addr)
        if isinstance(refused, services.MalformedRead):  # signed by the device: it may know what is wrong
            return jsonify(error="malformed", message=refused.message), 422
        return jsonify(error="unauthorized"), 401
    return jsonify(id=read.id), 201
