"""Forms of finding customers: the review of a flagged pair, the customer list's filters and their saving."""
from wtforms import DateField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from blueprints.search.models import DUPLICATE_STATUS_LABELS, DuplicateStatus
from core.forms import BaseForm, QueryForm


class DuplicateReviewForm(BaseForm):
    """The finding on a pair flagged as possibly one person."""

    status = RadioField("核查结论", choices=[SelectChoice(s.value, DUPLICATE_STATUS_LABELS[s])
                                        for s in (DuplicateStatus.SAME_PERSON, DuplicateStatus.DISTINCT)],
                        validators=[DataRequired("请选择核查结论")])
    note = StringField("核查说明", validators=[DataRequired("请填写核查说明（如核对了哪些证件）"),
                                           Length(max=200, message="核查说明不超过200个字符")])


# -- the customer list's filters (a GET form: codes, ids and dates only, never a personal value)

DATE_FORMAT_MESSAGE = "请输入正确的日期（年-月-日）"
RISK_CLASSES = ("C1", "C2", "C3", "C4", "C5")
ID_EXPIRY_LABELS = {"expired": "已过期", "30": "30 天内到期", "60": "60 天内到期", "90": "90 天内到期"}
# Closed (historical) customers drop out of CRM lists, so they are not a choice.
LISTED_KINDS = ("potential", "current", "lost")
# The filters' query-string names, in the order they are kept (saved filters, export links, audit).
FILTER_NAMES = ("q", "branch", "kind", "grade", "risk", "manager", "opened_from", "opened_to", "id_expiry")


class CustomerListForm(QueryForm):
    """The customer list's filters; a branch's staff are not offered branches, a customer manager not managers."""

    # Letters and digits; anything else simply matches no customer number (no message while typing).
    q = StringField("客户号", validators=[Optional(), Length(max=16, message="客户号不超过16个字符")],
                    filters=[lambda v: (v or "").strip().upper()])
    branch = SelectField("营业部", validators=[Optional()], validate_choice=False)
    kind = SelectField("客户类别", validators=[Optional()], validate_choice=False)
    grade = SelectField("客户级别", validators=[Optional()], validate_choice=False)
    risk = SelectField("风险等级", validators=[Optional()], validate_choice=False)
    manager = SelectField("客户经理", validators=[Optional()], validate_choice=False)
    opened_from = DateField("建档日期从", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    opened_to = DateField("建档日期至", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    id_expiry = SelectField("证件有效期", validators=[Optional()], validate_choice=False)

    def __init__(self, formdata, *, branches=(), kinds: dict, grades: dict, managers=()):
        super().__init__(formdata)
        self.branches = {str(b.id): b for b in branches}
        self.managers = {str(m.id): m for m in managers}
        self.branch.choices = [("", "全部营业部")] + [(str(b.id), b.name) for b in branches]
        self.kind.choices = [("", "全部")] + [(k, kinds[k]) for k in LISTED_KINDS]
        self.grade.choices = [("", "全部")] + list(grades.items())
        self.risk.choices = [("", "全部")] + [(c, c) for c in RISK_CLASSES]
        self.manager.choices = [("", "全部")] + [(str(m.id), m.full_name) for m in managers]
        self.id_expiry.choices = [("", "不限")] + list(ID_EXPIRY_LABELS.items())
        # Filters a user is not offered are not applied (a saved or typed URL may carry them): a branch's
        # staff are held to their branch, a customer manager to their own customers, by the visibility scope.
        if not self.branches:
            self.branch.data = ""
        if not self.managers:
            self.manager.data = ""

    @staticmethod
    def _within(field, allowed, message):
        if field.data and field.data not in allowed:
            field.data = ""
            raise ValidationError(message)

    def validate_branch(self, field):
        # Only HQ is offered branches; anybody else is held to their own by the visibility scope.
        self._within(field, self.branches, "请选择列表中的营业部")

    def validate_kind(self, field):
        self._within(field, LISTED_KINDS, "请选择列表中的客户类别")

    def validate_grade(self, field):
        self._within(field, dict(self.grade.choices[1:]), "请选择列表中的客户级别")

    def validate_risk(self, field):
        self._within(field, RISK_CLASSES, "请选择 C1 至 C5")

    def validate_manager(self, field):
        self._within(field, self.managers, "请选择列表中的客户经理")

    def validate_id_expiry(self, field):
        self._within(field, ID_EXPIRY_LABELS, "请选择列表中的证件有效期条件")

    def validate_opened_to(self, field):
        if field.data and self.opened_from.data and field.data < self.opened_from.data:
            raise ValidationError("结束日期不能早于开始日期")

    def query_args(self) -> dict:
        """The chosen filters as query-string arguments (links, the address bar, saved filters, the audit trail)."""
        args = {}
        for name in FILTER_NAMES:
            field = self[name]
            value = field.data
            if value in (None, "") or field.errors:
                continue
            args[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return args


class SaveFilterForm(BaseForm):
    """The name under which the current filters are kept (常用筛选)."""

    name = StringField("筛选名称", validators=[DataRequired("请填写筛选名称"),
                                           Length(max=40, message="筛选名称不超过40个字符")],
                       filters=[lambda v: (v or "").strip()])
