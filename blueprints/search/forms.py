"""Forms of finding customers: the review of a flagged pair."""
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length

from blueprints.search.models import DUPLICATE_STATUS_LABELS, DuplicateStatus
from core.forms import BaseForm


class DuplicateReviewForm(BaseForm):
    """The finding on a pair flagged as possibly one person."""

    status = RadioField("核查结论", choices=[(s.value, DUPLICATE_STATUS_LABELS[s])
                                        for s in (DuplicateStatus.SAME_PERSON, DuplicateStatus.DISTINCT)],
                        validators=[DataRequired("请选择核查结论")])
    note = StringField("核查说明", validators=[DataRequired("请填写核查说明（如核对了哪些证件）"),
                                           Length(max=200, message="核查说明不超过200个字符")])
