"""Forms of the return-visit (回访) screens; the rules live in services.record_visit."""
from core.forms import BaseForm, MultiCheckboxField
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from blueprints.return_visit.models import CHECK_ITEMS, OUTCOME_LABELS

NOTES_MAX = 2000
REASON_MAX = 500
RECORDING_TYPES = frozenset({"audio/mpeg", "audio/wav", "audio/mp4", "audio/amr"})


class CheckItemsField(MultiCheckboxField):
    """The 第十一条 items as checkboxes, one per item."""


class ReturnVisitForm(BaseForm):
    """One call: the items confirmed, the outcome, notes and an optional recording.

    Choices are not validated here: record_visit decides what a complete visit is,
    and its messages are shown next to these fields. `attempt_no` is the attempt the form
    was opened for, so that a second submit of the same form is recognised.
    """

    attempt_no = HiddenField()
    items = CheckItemsField("回访确认事项（第十一条）", validate_choice=False)
    outcome = RadioField("回访结果", choices=[SelectChoice(value, label) for value, label in OUTCOME_LABELS.items()], validate_choice=False)
    notes = TextAreaField("回访记录", validators=[Length(max=NOTES_MAX, message=f"回访记录不能超过 {NOTES_MAX} 字")])
    recording = FileField("通话录音（可选）")

    def __init__(self, *args, required_items: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.items.choices = [SelectChoice(key, CHECK_ITEMS[key]) for key in required_items]

    def expected_attempt(self) -> int | None:
        """The attempt number the form was for: None when not sent (a client without the field,
        which gets no double-submit check), 0 when it is not a number (refused as a stale page)."""
        value = (self.attempt_no.data or "").strip()
        if not value:
            return None
        return int(value) if value.isdigit() else 0


class SendBackForm(BaseForm):
    """The branch manager sends an account back for another round of return visits."""

    reason = TextAreaField("退回原因", validators=[Length(max=REASON_MAX, message=f"退回原因不能超过 {REASON_MAX} 字")])
