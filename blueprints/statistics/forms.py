"""The dashboard's selection: a period of Beijing days and, for HQ, a branch (a GET form: dates and a branch code only)."""
from datetime import date, timedelta

from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from blueprints.statistics.figures import Selection
from core.forms import QueryForm

DEFAULT_DAYS = 30
MAX_DAYS = 366
DATE_FORMAT_MESSAGE = "请输入正确的日期（年-月-日）"


class DashboardForm(QueryForm):
    """Start and end day (both included; by default the last 30 days up to today) and HQ's branch filter."""

    start = DateField("开始日期", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    end = DateField("结束日期", validators=[Optional()], invalid_value_message=DATE_FORMAT_MESSAGE)
    branch = SelectField("营业部", validators=[Optional()], validate_choice=False)

    def __init__(self, formdata, today: date, branches=()):
        super().__init__(formdata)
        self.today = today
        self.branches = {branch.code: branch for branch in branches}
        self.branch.choices = [SelectChoice("", "全部营业部")] + [SelectChoice(b.code, b.name) for b in branches]
        if not self.branches:
            # A branch's own staff are not offered the filter: their branch is the scope whatever is asked.
            self.branch.data = ""
        if not formdata.get("end"):
            self.end.data = self.end.data or today
        if not formdata.get("start"):
            self.start.data = self.start.data or (self.end.data or today) - timedelta(days=DEFAULT_DAYS - 1)

    def validate_end(self, field):
        if field.data and field.data > self.today:
            raise ValidationError(f"结束日期不能晚于今天（{self.today}）")
        if field.data and self.start.data:
            if field.data < self.start.data:
                raise ValidationError("结束日期不能早于开始日期")
            if (field.data - self.start.data).days + 1 > MAX_DAYS:
                raise ValidationError(f"统计期最长 {MAX_DAYS} 天，请缩短")

    def validate_branch(self, field):
        # Only HQ is offered branches; a branch's own staff always get their own branch.
        if field.data and field.data not in self.branches:
            raise ValidationError("请选择列表中的营业部")

    def selection(self) -> Selection:
        chosen = self.branches.get(self.branch.data or "")
        return Selection(self.start.data, self.end.data, chosen.id if chosen else None)

    def query_args(self) -> dict:
        """The selection as query-string arguments (for the export links and the address bar)."""
        args = {"start": self.start.data.isoformat(), "end": self.end.data.isoformat()}
        if self.branch.data and self.branch.data in self.branches:
            args["branch"] = self.branch.data
        return args
