"""The potential-customer entry form."""
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from blueprints.opening import rules
from core.reference import ID_TYPE_LABELS
from blueprints.prospects.models import SOURCES
from core.forms import BaseForm


class ProspectForm(BaseForm):
    client_token = HiddenField()
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=60, message="姓名不超过60个字符")])
    id_type = SelectField("证件类型", choices=[SelectChoice(t.value, label) for t, label in ID_TYPE_LABELS.items()],
                          validators=[DataRequired("请选择证件类型")])
    id_number = StringField("证件号码", validators=[DataRequired("请填写证件号码")])
    mobile = StringField("手机号码")
    source = SelectField("客户来源", choices=[SelectChoice("", "请选择")] + [SelectChoice(k, v) for k, v in SOURCES.items()],
                         validators=[DataRequired("请选择客户来源")])
    notes = TextAreaField("备注", validators=[Length(max=500, message="备注不超过500个字符")])

    def validate_mobile(self, field):
        if not (field.data or "").strip():
            field.data = None
            return
        number, error = rules.check_mobile(field.data)
        if error:
            raise ValidationError(error.message)
        field.data = number


class ProspectEditForm(ProspectForm):
    """The entry form again, for correcting a potential customer before any account exists.

    For a role that does not see full ID numbers the number and the mobile are not shown; left empty they
    stay as they are.
    """

    profile_version = HiddenField()
    id_number = StringField("证件号码")
