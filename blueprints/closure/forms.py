"""Forms of closure and reactivation: start, same-terminal review (同机复核), withdraw."""
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from core.forms import BaseForm, ReviewerCredentialsForm

REASON_MAX = 500


class StartClosureForm(BaseForm):
    """Submit the closure of one fund account; the client token makes a double click one business."""

    fund_account = HiddenField(validators=[DataRequired("请选择要销户的资金账户")])
    client_token = HiddenField(validators=[DataRequired("页面已过期，请刷新后重试"), Length(max=64)])
    confirmed = BooleanField("已核对客户本人及其出示的有效身份证件，客户本人申请销户",
                             validators=[DataRequired("请确认已核对客户本人及有效身份证件")])


class StartReactivationForm(BaseForm):
    """Submit the reactivation of a dormant fund account with the ID shown at the counter checked."""

    fund_account = HiddenField(validators=[DataRequired("请选择要激活的资金账户")])
    client_token = HiddenField(validators=[DataRequired("页面已过期，请刷新后重试"), Length(max=64)])
    id_checked = BooleanField("已核验客户出示的身份证件原件在有效期内，且与档案一致",
                              validators=[DataRequired("请核验客户出示的有效身份证件后勾选")])


class BusinessReviewForm(ReviewerCredentialsForm):
    """A reviewer's own credentials and decision, entered on the clerk's screen (同机复核)."""

    decision = RadioField("复核结论", choices=[SelectChoice("approve", "复核通过"), SelectChoice("reject", "退回柜员")],
                          validators=[InputRequired("请选择复核结论")])
    reason = TextAreaField("退回原因（退回时必填）",
                           validators=[Length(max=REASON_MAX, message=f"退回原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})

    def __init__(self, *args, approve_label: str = "复核通过", **kwargs):
        super().__init__(*args, **kwargs)
        self.decision.choices = [SelectChoice("approve", approve_label), SelectChoice("reject", "退回柜员")]

    @property
    def rejecting(self) -> bool:
        return self.decision.data == "reject"

    def validate_reason(self, field):
        if self.rejecting and not (field.data or "").strip():
            raise ValidationError("退回须填写原因")


class WithdrawForm(BaseForm):
    """Withdraw a business not yet approved, saying why."""

    reason = StringField("撤回原因", validators=[DataRequired("撤回须填写原因"),
                                             Length(max=200, message="撤回原因不超过200字")])


class ResubmitForm(BaseForm):
    """Send a rejected closure to review again (the CSRF token is all it carries)."""
