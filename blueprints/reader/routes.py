"""Reader pairing screens for HQ, and the API the reader agents post card reads to."""
from flask import Blueprint, abort, jsonify, request
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from blueprints.auth.models import Branch
from blueprints.reader import services
from blueprints.reader.models import ReaderDevice
from core.extensions import csrf, db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required

bp = Blueprint("reader", __name__)


class PairForm(FlaskForm):
    branch_id = SelectField("营业部", coerce=int, validators=[DataRequired("请选择营业部")])
    label = StringField("设备名称", validators=[DataRequired("请填写设备名称，如“朝阳门柜台3号读卡器”"), Length(max=60)])


class RevokeForm(FlaskForm):
    pass


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


@bp.route("/reader/devices/<int:device_id>/revoke", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def revoke(device_id: int):
    """Revoke a reader: its posts are refused from now on."""
    device = db.session.get(ReaderDevice, device_id)
    if device is None or not RevokeForm().validate_on_submit():
        abort(404)
    services.revoke_device(device, current_user)
    return see_other("/reader/devices")


@bp.route("/api/reader/reads", methods=["POST"])
@csrf.exempt  # authenticated by the device's HMAC signature, not by a browser session
def post_read():
    """Accept a signed card read from a paired reader agent."""
    body = request.get_data(cache=False)
    try:
        read = services.accept_post(request.headers.get("X-Reader-Device", ""),
                                    request.headers.get("X-Reader-Timestamp", ""),
                                    request.headers.get("X-Reader-Signature", ""), body)
    except services.PostRefused as refused:
        db.session.rollback()
        services.record_refusal(refused, request.remote_addr)
        return jsonify(error="unauthorized"), 401
    return jsonify(id=read.id), 201
