"""Forms of a merge: its entry (which record carries on, and why), the reviewer's decision, a withdrawal."""
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from core.forms import BaseForm

REASON_MAX = 500


class MergeForm(BaseForm):
    """Enter a merge; the survivor's choices are the two records of the flagged pair, set by the route."""

    client_token = HiddenField(validators=[DataRequired("页面已过期，请刷新后重试"), Length(max=64)])
    survivor = RadioField("保留哪一份客户档案", coerce=int, validate_choice=False,
                          validators=[InputRequired("请选择保留哪一份客户档案")])
    reason = TextAreaField("合并原因（核对了哪些证件和资料）",
                           validators=[DataRequired("请填写合并原因"),
                                       Length(max=REASON_MAX, message=f"原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})


class DecisionForm(BaseForm):
    """The reviewer's decision on a merge."""

    decision = RadioField("复核结论", choices=[SelectChoice("approve", "复核通过，合并"), SelectChoice("reject", "退回")],
                          validators=[InputRequired("请选择复核结论")])
    note = TextAreaField("复核意见（退回时必填）", validators=[Length(max=REASON_MAX, message=f"意见不超过{REASON_MAX}字")],
                         render_kw={"rows": 2})

    def validate_note(self, field):
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError("退回须填写原因")


class WithdrawForm(BaseForm):
    note = TextAreaField("撤回原因", validators=[DataRequired("请填写撤回原因"),
                                             Length(max=REASON_MAX, message=f"原因不超过{REASON_MAX}字")],
                         render_kw={"rows": 2})
