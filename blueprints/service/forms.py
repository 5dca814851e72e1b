"""Forms of service records and complaints; staff choices are filled in by the route from the branch."""
import re

from wtforms import DateField, FileField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from blueprints.dictionaries import services as dictionaries
from blueprints.service.rules import (CATEGORY_DICTIONARY, CHANNEL_LABELS, FEEDBACK_LABELS, KIND_LABELS, URGENCY_LABELS,
                                      ServiceKind)
from core.forms import BaseForm

DATE_MESSAGE = "请输入正确的日期（年-月-日）"
TEXT_MAX = 2000
CASE_NO = re.compile(r"[A-Za-z0-9\-]{4,40}")


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(str(key), label) for key, label in labels.items()]


class RecordForm(BaseForm):
    """Record a service contact; the complaint part is read only for a complaint."""

    client_token = HiddenField(validators=[DataRequired("页面已过期，请刷新后重试"), Length(max=64)])
    kind = RadioField("记录类型", choices=_choices(KIND_LABELS), validators=[InputRequired("请选择记录类型")])
    subject = StringField("事由", validators=[DataRequired("请填写事由"), Length(max=100, message="事由不超过100字")])
    content = TextAreaField("内容", validators=[DataRequired("请填写内容"), Length(max=TEXT_MAX, message=f"内容不超过{TEXT_MAX}字")],
                            render_kw={"rows": 4})
    follow_up_on = DateField("跟进日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    outcome = TextAreaField("处理结果（已当场解决时填写，记录即办结）",
                            validators=[Length(max=TEXT_MAX, message=f"处理结果不超过{TEXT_MAX}字")], render_kw={"rows": 2})
    channel = SelectField("投诉渠道", choices=[SelectChoice("", "请选择")] + _choices(CHANNEL_LABELS),
                          validators=[Optional()])
    case_no = StringField("12386转办编号", validators=[Optional(), Length(max=40, message="转办编号不超过40个字符")])
    # The enabled entries of the complaint-category dictionary, set in __init__.
    category = SelectField("业务类别", validators=[Optional()])
    urgency = RadioField("重要紧急程度", choices=_choices(URGENCY_LABELS), default="general", validators=[Optional()])
    received_on = DateField("受理日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    complained_staff = SelectField("被投诉人员（如有）", coerce=int, validate_choice=False, validators=[Optional()])
    handler = SelectField("首办处理人", coerce=int, validate_choice=False, validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [SelectChoice("", "请选择")] + [
            SelectChoice(code, text) for code, text in dictionaries.options(CATEGORY_DICTIONARY)]

    @property
    def is_complaint(self) -> bool:
        return self.kind.data == ServiceKind.COMPLAINT

    def validate_channel(self, field):
        if self.is_complaint and not field.data:
            raise ValidationError("请选择投诉渠道")

    def validate_category(self, field):
        if self.is_complaint and not field.data:
            raise ValidationError("请选择业务类别")

    def validate_case_no(self, field):
        value = (field.data or "").strip()
        if self.is_complaint and self.channel.data == "csrc_12386":
            if not value:
                raise ValidationError("12386转办的投诉须填写转办编号")
            if not CASE_NO.fullmatch(value):
                raise ValidationError("转办编号只含字母、数字和连字符（4–40位）")

    def validate_urgency(self, field):
        if self.is_complaint and field.data not in URGENCY_LABELS:
            raise ValidationError("请选择重要紧急程度")


class AssignHandlerForm(BaseForm):
    handler = SelectField("首办处理人", coerce=int, validate_choice=False, validators=[InputRequired("请选择处理人")])


class ReassignHandlerForm(BaseForm):
    handler = SelectField("新的处理人", coerce=int, validate_choice=False, validators=[InputRequired("请选择新的处理人")])
    reason = TextAreaField("改派原因", validators=[Length(max=200, message="改派原因不超过200字")], render_kw={"rows": 2})


class FollowUpForm(BaseForm):
    note = TextAreaField("跟进情况", validators=[DataRequired("请填写跟进情况"),
                                                 Length(max=1000, message="跟进情况不超过1000字")], render_kw={"rows": 2})
    next_date = DateField("下次跟进日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)


class ExtendForm(BaseForm):
    reason = TextAreaField("延期原因", validators=[DataRequired("延期须填写原因"),
                                                   Length(max=500, message="延期原因不超过500字")], render_kw={"rows": 2})


class CloseForm(BaseForm):
    outcome = TextAreaField("处理结果", validators=[DataRequired("请填写处理结果"),
                                                    Length(max=TEXT_MAX, message=f"处理结果不超过{TEXT_MAX}字")],
                            render_kw={"rows": 3})
    feedback = RadioField("客户评价", choices=_choices(FEEDBACK_LABELS), validators=[Optional()])
    feedback_text = TextAreaField("客户意见", validators=[Length(max=1000, message="客户意见不超过1000字")],
                                  render_kw={"rows": 2})


class FileForm(BaseForm):
    file = FileField("投诉材料（PDF、JPEG 或 PNG）")
