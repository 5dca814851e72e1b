"""Forms of the review screens: queue filters, the decision forms and same-terminal review (同机复核)."""
from core.forms import BaseForm, QueryForm, ReviewerCredentialsForm
from wtforms import DateField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.opening import workflow
from blueprints.opening.workflow import STATUS_LABELS
from blueprints.review.services import IN_REVIEW, InboxFilters
from core import choices

REASON_REQUIRED = "退回须填写原因"
STEP_REQUIRED = "请选择需要修改的步骤"
REASON_MAX = 500
DATE_FORMAT_MESSAGE = "请输入正确的日期（年-月-日）"
DATE_ORDER_MESSAGE = "结束日期不能早于开始日期"



def return_step_choices(channel: str) -> list[SelectChoice]:
    """The steps an application of `channel` can be returned to, numbered as the clerk's step list."""
    return [SelectChoice("", STEP_REQUIRED)] + [
        SelectChoice(step.key, workflow.step_label(channel, step.key)) for step in workflow.returnable_steps(channel)
    ]


DECISION_CHOICES = [SelectChoice("approve", "复核通过"), SelectChoice("reject", "退回柜员修改")]


class QueueFilterForm(QueryForm):
    """Filters of the reviewer's inbox, read from the query string (a GET form: no CSRF token).

    An unknown status, channel or "returned" value filters nothing; a date that cannot be read or a
    range that ends before it starts is refused next to the field.
    """

    status = SelectField("状态", choices=[SelectChoice("", "全部")] + [SelectChoice(s.value, STATUS_LABELS[s]) for s in IN_REVIEW],
                         validators=[Optional()], validate_choice=False)
    channel = SelectField("开户方式", choices=[SelectChoice("", "全部")]
                          + [SelectChoice(key, choices.CHANNELS[key]) for key in choices.ENABLED_CHANNELS],
                          validators=[Optional()], validate_choice=False)
    submitted_from = DateField("提交日期起", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    submitted_to = DateField("提交日期止", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    returned = SelectField("退回记录", choices=[SelectChoice("", "全部"), SelectChoice("yes", "曾被退回"),
                                              SelectChoice("no", "首次复核")], validators=[Optional()], validate_choice=False)
    branch = SelectField("营业部", validators=[Optional()], validate_choice=False)
    q = StringField("申请编号", validators=[Optional(), Length(max=20, message="申请编号不超过20位")],
                    render_kw={"placeholder": "输入申请编号，如 KH2026…"})

    def __init__(self, formdata, branches=()):
        super().__init__(formdata)
        self.branches = {str(branch.id): branch for branch in branches}
        self.branch.choices = [SelectChoice("", "全部营业部")] + [SelectChoice(str(b.id), b.name) for b in branches]

    def validate_submitted_to(self, field):
        if field.data and self.submitted_from.data and field.data < self.submitted_from.data:
            raise ValidationError(DATE_ORDER_MESSAGE)

    def validate_branch(self, field):
        # Only HQ reviewers are offered branches; a branch's own reviewer always sees the own branch.
        if self.branches and field.data and field.data not in self.branches:
            raise ValidationError("请选择列表中的营业部")

    def filters(self) -> InboxFilters:
        """The valid filters for services.inbox."""
        known = {s.value for s in IN_REVIEW}
        return InboxFilters(
            status=self.status.data if self.status.data in known else None,
            channel=self.channel.data if self.channel.data in choices.CHANNELS else None,
            submitted_from=self.submitted_from.data, submitted_to=self.submitted_to.data,
            returned={"yes": True, "no": False}.get(self.returned.data),
            branch_id=int(self.branch.data) if self.branch.data in self.branches else None,
            reference=(self.q.data or "").strip(),
        )

    def query_args(self, **changes) -> dict:
        """The filters as query-string arguments (for page links), with `changes` applied."""
        args = {name: field.raw_data[0] for name, field in self._fields.items() if field.raw_data and field.raw_data[0]}
        args.update(changes)
        return {k: v for k, v in args.items() if v not in (None, "")}


class ApproveForm(BaseForm):
    """Approve (复核通过): nothing to fill in besides the CSRF token."""


class RejectForm(BaseForm):
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


class SameTerminalForm(ReviewerCredentialsForm):
    """A reviewer's own credentials and decision, entered on the clerk's screen (同机复核)."""

    decision = RadioField("复核结论", choices=DECISION_CHOICES, validators=[InputRequired("请选择复核结论")])
    reason = TextAreaField("退回原因（退回时必填）", validators=[Length(max=REASON_MAX, message=f"退回原因不超过{REASON_MAX}字")],
                           render_kw={"rows": 3})
    return_step = SelectField("需要修改的步骤（退回时必填）", validate_choice=False)

    def __init__(self, *args, channel: str, maker: str = "柜员", **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.return_step.choices = return_step_choices(channel)
        # Say who corrects a returned application: the clerk, or the witness staff of a witness opening.
        self.decision.choices = [DECISION_CHOICES[0], SelectChoice("reject", f"退回{maker}修改")]

    @property
    def rejecting(self) -> bool:
        return self.decision.data == "reject"

    def validate_reason(self, field):
        if self.rejecting and not (field.data or "").strip():
            raise ValidationError(REASON_REQUIRED)

    def validate_return_step(self, field):
        if self.rejecting and not workflow.is_returnable(self.channel, field.data):
            raise ValidationError(STEP_REQUIRED)
