"""Forms of assignment and handover; the choices are filled in by the route from the branch's staff."""
from wtforms import DateField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from blueprints.managers.rules import KIND_LABELS, HandoverKind
from core.forms import BaseForm, MultiCheckboxField

REASON_MAX = 500
DATE_MESSAGE = "请输入正确的日期（年-月-日）"


class AssignForm(BaseForm):
    """Give an unassigned customer to a customer manager or broker (首次分配)."""

    staff = SelectField("客户经理 / 证券经纪人", coerce=int, validate_choice=False,
                        validators=[InputRequired("请选择客户经理或证券经纪人")])
    reason = TextAreaField("分配原因", validators=[DataRequired("请填写分配原因"),
                                                   Length(max=REASON_MAX, message=f"原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 2})


class HandoverForm(BaseForm):
    """Ask for a handover: whose customers, which ones (or all on departure), to whom, from when, and why."""

    client_token = HiddenField(validators=[DataRequired("页面已过期，请刷新后重试"), Length(max=64)])
    from_staff = SelectField("移交人", coerce=int, validate_choice=False,
                             validators=[InputRequired("请选择移交人")])
    kind = RadioField("移交类型", choices=[SelectChoice(k.value, KIND_LABELS[k]) for k in HandoverKind],
                      default=HandoverKind.SELECTED.value, validators=[InputRequired("请选择移交类型")])
    customers = MultiCheckboxField("移交的客户", coerce=int, validate_choice=False)
    successors = MultiCheckboxField("接手人", coerce=int, validate_choice=False)
    effective_date = DateField("生效日期", validators=[InputRequired(DATE_MESSAGE)], invalid_value_message=DATE_MESSAGE)
    reason = TextAreaField("移交原因", validators=[DataRequired("请填写移交原因"),
                                                   Length(max=REASON_MAX, message=f"原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})

    def validate_customers(self, field):
        if self.kind.data == HandoverKind.SELECTED and not field.data:
            raise ValidationError("请选择要移交的客户")

    def validate_successors(self, field):
        if not field.data:
            raise ValidationError("请选择接手人")
        if self.kind.data == HandoverKind.SELECTED and len(field.data) > 1:
            raise ValidationError("客户移交只能选一位接手人；离职移交可分给多位")


class DecisionForm(BaseForm):
    """The branch manager's review of a handover."""

    decision = RadioField("审核结论", choices=[SelectChoice("approve", "审核通过"), SelectChoice("reject", "退回")],
                          validators=[InputRequired("请选择审核结论")])
    note = TextAreaField("审核意见（退回时必填）", validators=[Length(max=REASON_MAX, message=f"意见不超过{REASON_MAX}字")],
                         render_kw={"rows": 2})

    def validate_note(self, field):
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError("退回须填写原因")


class WithdrawForm(BaseForm):
    note = TextAreaField("撤回原因", validators=[DataRequired("请填写撤回原因"),
                                                 Length(max=REASON_MAX, message=f"原因不超过{REASON_MAX}字")],
                         render_kw={"rows": 2})
