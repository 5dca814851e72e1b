"""The audit trail's filters, read from the query string."""
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, Regexp, ValidationError

from blueprints.audit_trail.labels import CATEGORY_LABELS
from core.forms import QueryForm, check_date_order, date_field


class TrailFilterForm(QueryForm):
    """Who, what, which record and when (a GET form: no CSRF token). Every filter is optional."""

    staff = StringField("用户名", validators=[Optional(), Regexp(r"^\s*[A-Za-z0-9_.@-]{1,64}\s*$",
                                                                message="用户名只含字母、数字和 _ . @ -")])
    category = SelectField("业务类别", choices=[SelectChoice("", "全部")]
                           + [SelectChoice(key, label) for key, label in CATEGORY_LABELS.items()],
                           validate_choice=False)
    object_id = StringField("客户号或业务编号", validators=[Optional(), Regexp(
        r"^\s*[A-Za-z0-9_-]{1,64}\s*$", message="请输入客户号、申请编号或业务编号（字母和数字）")])
    branch = SelectField("营业部", validate_choice=False)
    date_from = date_field("日期起")
    date_to = date_field("日期止")

    def __init__(self, formdata, branches):
        super().__init__(formdata)
        self._branch_ids = {str(branch.id) for branch in branches}
        if not branches:  # a branch manager reads their own branch: nothing to choose, a posted one ignored
            del self.branch
            return
        self.branch.choices = [SelectChoice("", "全部")] + [
            SelectChoice(str(branch.id), f"{branch.code} {branch.name}") for branch in branches]

    def validate_category(self, field):
        if field.data and field.data not in CATEGORY_LABELS:
            raise ValidationError("请选择列表中的业务类别")

    def validate_branch(self, field):
        if field.data and field.data not in self._branch_ids:
            raise ValidationError("请选择列表中的营业部")

    def validate(self, extra_validators=None) -> bool:
        return super().validate(extra_validators) and check_date_order(self)

    def filters(self) -> dict:
        return {"username": (self.staff.data or "").strip(), "category": self.category.data or "",
                "object_id": (self.object_id.data or "").strip(),
                "branch_id": int(self.branch.data) if "branch" in self and self.branch.data else None,
                "date_from": self.date_from.data, "date_to": self.date_to.data}
