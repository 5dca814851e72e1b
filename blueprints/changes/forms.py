"""Forms of the change businesses: ordinary and key information, link confirmation, review, slips, queries."""
from core.forms import BaseForm, MultiCheckboxField, QueryForm, ReviewerCredentialsForm
from wtforms import BooleanField, DateField, FileField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.changes.rules import CHANGE_KIND_LABELS, ChangeKind
from blueprints.changes.services import SYSTEMS
from blueprints.opening.forms import DATE_FORMAT_MESSAGE, REQUIRED, ContactForm
from core.reference import ID_TYPE_LABELS, IdType

REASON_MAX = 500


def _system_choices() -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in SYSTEMS.items()]


class _ChangeEntry:
    """What every change form carries: the form's token against double submit, the version it was made on."""

    client_token = HiddenField()
    base_version = HiddenField()
    # "1" once the clerk has seen the 修改对比 and confirms; otherwise the post only previews.
    confirmed = HiddenField(default="")

    @property
    def confirming(self) -> bool:
        return self.confirmed.data == "1"

    def base_version_number(self) -> int:
        try:
            return int(self.base_version.data)
        except (TypeError, ValueError):
            return -1


class OrdinaryChangeForm(_ChangeEntry, ContactForm):
    """普通资料变更: the contact details and profile the opening collected, with the same checks."""

    systems = MultiCheckboxField("同步系统", choices=_system_choices(), validate_choice=True)


KEY_ELEMENTS = {
    "name": "姓名变更（须提供公安机关出具的变更证明）",
    "id_number": "证件类型或证件号码变更（须提供变更证明）",
    "renewal": "证件有效期更新（换领新证）",
    "upgrade": "15位身份证号码升为18位",
}


class KeyChangeForm(_ChangeEntry, BaseForm):
    """关键信息变更: one element per business (第十二条), the new document checked as at opening."""

    element = RadioField("变更事项", choices=[SelectChoice(k, v) for k, v in KEY_ELEMENTS.items()],
                         validators=[InputRequired("请选择变更事项")])
    name = StringField("新姓名", validators=[Optional(), Length(max=60, message="姓名过长")])
    id_type = SelectField("新证件类型", choices=[SelectChoice(t.value, ID_TYPE_LABELS[t]) for t in IdType],
                          validators=[Optional()])
    id_number = StringField("新证件号码", validators=[Optional(), Length(max=32, message="证件号码过长")])
    valid_from = DateField("新证件有效期起", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    valid_to = DateField("新证件有效期止", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    valid_long_term = BooleanField("长期有效")
    certificate = FileField("变更证明扫描件（JPEG/PNG/PDF）")
    systems = MultiCheckboxField("同步系统", choices=_system_choices(), validate_choice=True,
                                 default=["csdc", "shareholder", "funds"])

    def validate_name(self, field):
        if self.element.data == "name" and not (field.data or "").strip():
            raise ValidationError(REQUIRED)

    def validate_id_number(self, field):
        if self.element.data == "id_number" and not (field.data or "").strip():
            raise ValidationError(REQUIRED)

    def validate_valid_from(self, field):
        if self.element.data in ("name", "id_number", "renewal") and field.data is None:
            raise ValidationError("请填写新证件的有效期起")

    def validate_valid_to(self, field):
        if self.element.data in ("name", "id_number", "renewal") and field.data is None and not self.valid_long_term.data:
            raise ValidationError("请填写有效期止，或勾选“长期有效”")
        if field.data and self.valid_from.data and field.data <= self.valid_from.data:
            raise ValidationError("有效期止须晚于有效期起")


class LinkConfirmationForm(_ChangeEntry, BaseForm):
    """关联关系确认: the customer confirms that the listed sub-accounts are theirs."""

    confirm = MultiCheckboxField("确认为本人的证券账户", validate_choice=True)

    def validate_confirm(self, field):
        if not field.data:
            raise ValidationError("请勾选经客户确认为本人的证券账户")


class ChangeDecisionForm(ReviewerCredentialsForm):
    """The reviewer's decision on a change, taken on the clerk's terminal."""

    decision = RadioField("复核结论", choices=[SelectChoice("approve", "复核通过"), SelectChoice("reject", "退回经办人")],
                          validators=[InputRequired("请选择复核结论")])
    reason = TextAreaField("退回原因（退回时必填）", validators=[Length(max=REASON_MAX, message=f"退回原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})

    @property
    def rejecting(self) -> bool:
        return self.decision.data == "reject"

    def validate_reason(self, field):
        if self.rejecting and not (field.data or "").strip():
            raise ValidationError("退回须填写原因")


class WithdrawChangeForm(BaseForm):
    reason = TextAreaField("撤销原因", validators=[DataRequired("撤销须填写原因"),
                                               Length(max=REASON_MAX, message=f"撤销原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 2})


class SignedSlipForm(BaseForm):
    slip = FileField("客户签字的确认单扫描件（JPEG/PNG/PDF）")


class ChangeQueryForm(QueryForm):
    """Managers' query of changes by type, branch and period (GET)."""

    kind = SelectField("业务类型", choices=[SelectChoice("", "全部")] + [SelectChoice(k.value, CHANGE_KIND_LABELS[k])
                                                                     for k in ChangeKind],
                       validators=[Optional()], validate_choice=False)
    branch = SelectField("营业部", validators=[Optional()], validate_choice=False)
    date_from = DateField("提交日期起", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    date_to = DateField("提交日期止", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)

    def __init__(self, formdata, branches=()):
        super().__init__(formdata)
        self.branches = {str(branch.id): branch for branch in branches}
        self.branch.choices = [SelectChoice("", "全部营业部")] + [SelectChoice(str(b.id), b.name) for b in branches]

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("结束日期不能早于开始日期")
