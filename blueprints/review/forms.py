"""Forms of the review screens: queue filters, the decision forms and same-terminal review (同机复核)."""
from flask_wtf import FlaskForm
from wtforms import Form, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.opening import workflow
from blueprints.opening.workflow import STATUS_LABELS, Status
from blueprints.review.services import IN_REVIEW

REASON_REQUIRED = "退回须填写原因"
STEP_REQUIRED = "请选择需要修改的步骤"
REASON_MAX = 500



def return_step_choices(channel: str) -> list[SelectChoice]:
    """The steps an application of `channel` can be returned to, numbered as the clerk's step list."""
    return [SelectChoice("", STEP_REQUIRED)] + [
        SelectChoice(step.key, workflow.step_label(channel, step.key)) for step in workflow.returnable_steps(channel)
    ]


DECISION_CHOICES = [SelectChoice("approve", "复核通过"), SelectChoice("reject", "退回柜员修改")]


class QueueFilterForm(Form):
    """Filters of the reviewer's queue, read from the query string (a GET form: no CSRF token)."""

    status = SelectField("状态", choices=[SelectChoice("", "全部")] + [SelectChoice(s.value, STATUS_LABELS[s]) for s in IN_REVIEW],
                         validators=[Optional()])
    q = StringField("申请编号", validators=[Optional(), Length(max=20)], render_kw={"placeholder": "输入申请编号，如 KH2026…"})

    def matches(self, application) -> bool:
        """Whether `application` passes the filters; an unknown status value filters nothing."""
        wanted = self.status.data if self.status.data in {s.value for s in IN_REVIEW} else None
        if wanted and Status(application.status) != wanted:
            return False
        term = (self.q.data or "").strip().upper()
        return not term or term in application.reference


class ApproveForm(FlaskForm):
    """Approve (复核通过): nothing to fill in besides the CSRF token."""


class RejectForm(FlaskForm):
    """Return the application to the clerk with a reason and the step to correct.

    The steps offered are those of the application's channel: an on-site opening has no witness step.
    """

    reason = TextAreaField("退回原因", validators=[DataRequired(REASON_REQUIRED), Length(max=REASON_MAX, message=f"退回原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})
    return_step = SelectField("需要修改的步骤", validators=[InputRequired(STEP_REQUIRED)], validate_choice=False)

    def __init__(self, *args, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.return_step.choices = return_step_choices(channel)

    def validate_return_step(self, field):
        if not workflow.is_returnable(self.channel, field.data):
            raise ValidationError(STEP_REQUIRED)


class SameTerminalForm(FlaskForm):
    """A reviewer's own credentials and decision, entered on the clerk's screen (同机复核)."""

    # Named apart from the login form's fields so the browser does not offer the clerk's saved login.
    reviewer_username = StringField("复核人用户名", validators=[DataRequired("请输入复核人用户名"), Length(max=32)],
                                    render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"})
    reviewer_password = PasswordField("复核人密码", validators=[DataRequired("请输入复核人密码"), Length(max=128)],
                                      render_kw={"autocomplete": "off"})
    decision = RadioField("复核结论", choices=DECISION_CHOICES, validators=[InputRequired("请选择复核结论")])
    reason = TextAreaField("退回原因（退回时必填）", validators=[Length(max=REASON_MAX, message=f"退回原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})
    return_step = SelectField("需要修改的步骤（退回时必填）", validate_choice=False)

    def __init__(self, *args, channel: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.return_step.choices = return_step_choices(channel)

    @property
    def rejecting(self) -> bool:
        return self.decision.data == "reject"

    def validate_reason(self, field):
        if self.rejecting and not (field.data or "").strip():
            raise ValidationError(REASON_REQUIRED)

    def validate_return_step(self, field):
        if self.rejecting and not workflow.is_returnable(self.channel, field.data):
            raise ValidationError(STEP_REQUIRED)
