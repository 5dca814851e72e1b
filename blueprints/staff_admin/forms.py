"""Forms of staff administration and of the own-password page."""
from wtforms import BooleanField, DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from core.forms import BaseForm, MultiCheckboxField, QueryForm
from core.passwords import MAX_LENGTH
from core.roles import ROLE_LABELS

DATE_MESSAGE = "请输入正确的日期（年-月-日）"


def role_choices(blank: str | None = "请选择岗位", roles=None) -> list:
    choices = [SelectChoice("", blank)] if blank else []
    return choices + [SelectChoice(str(role), label) for role, label in ROLE_LABELS.items()
                      if roles is None or role in roles]


def branch_choices(branches, blank: str | None = "请选择营业部") -> list:
    choices = [SelectChoice("", blank)] if blank else []
    return choices + [SelectChoice(str(b.id), f"{b.code} {b.name}") for b in branches]


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class StaffFilterForm(QueryForm):
    q = StringField("姓名或用户名", validators=[Optional(), Length(max=32, message="不超过32个字符")])
    branch = SelectField("营业部", coerce=_int_or_none, validate_choice=False)
    role = SelectField("岗位", validate_choice=False)
    enabled = SelectField("状态", choices=[SelectChoice("", "全部"), SelectChoice("1", "在用"), SelectChoice("0", "已停用")],
                          validate_choice=False)


class StaffForm(BaseForm):
    full_name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=32, message="姓名不超过32个字符")])
    role = SelectField("岗位", validators=[DataRequired("请选择岗位")])
    branch_id = SelectField("营业部", coerce=_int_or_none, validators=[InputRequired("请选择营业部")])


class NewStaffForm(StaffForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=32, message="用户名不超过32个字符")],
                           render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"})


class EditStaffForm(StaffForm):
    version = HiddenField()
    # Named apart from the login form's field so the browser does not fill in a saved password.
    admin_password = PasswordField("您本人的登录密码（修改岗位或营业部时必填）",
                                   validators=[Optional(), Length(max=128, message="密码不超过128个字符")],
                                   render_kw={"autocomplete": "current-password"})


class VersionForm(BaseForm):
    """A button's form: the staff row's version, so a second click does nothing twice."""

    version = HiddenField()


class FactsForm(BaseForm):
    version = HiddenField()
    qualification_no = StringField("证券从业资格编号", validators=[Optional(), Length(max=32, message="不超过32个字符")])
    qualification_obtained_on = DateField("取得从业资格日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    is_regular_employee = BooleanField("公司正式员工")
    regular_employee_since = DateField("成为正式员工日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    is_marketing = BooleanField("营销人员（不得担任见证人）")
    witness_trained_on = DateField("见证培训合格日期", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    reason = TextAreaField("修改原因", validators=[DataRequired("请填写修改原因"), Length(max=200, message="原因不超过200个字符")])


class ChangePasswordForm(BaseForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码"), Length(max=128, message="密码不超过128个字符")],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")],
                                 render_kw={"autocomplete": "new-password", "maxlength": str(MAX_LENGTH)})
    confirm_password = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码")],
                                     render_kw={"autocomplete": "new-password"})

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.new_password.data and self.confirm_password.data and self.new_password.data != self.confirm_password.data:
            self.confirm_password.errors = [*self.confirm_password.errors, "两次输入的新密码不一致"]
            return False
        return ok


class BranchForm(BaseForm):
    code = StringField("营业部代码", validators=[DataRequired("请填写营业部代码"), Length(max=8, message="代码不超过8个字符")])
    name = StringField("营业部名称", validators=[DataRequired("请填写营业部名称"), Length(max=64, message="名称不超过64个字符")])


class NewBranchForm(BranchForm):
    businesses = MultiCheckboxField("初始赋权（总部赋予该营业部的业务）")
    reason = StringField("赋权原因", validators=[Optional(), Length(max=200, message="原因不超过200个字符")])


class GiveGrantForm(BaseForm):
    business = SelectField("业务", validators=[DataRequired("请选择业务")])
    role = SelectField("范围")
    reason = StringField("赋权原因", validators=[DataRequired("请填写赋权原因"), Length(max=200, message="原因不超过200个字符")])


class WithdrawGrantForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    reason = StringField("撤回原因", validators=[DataRequired("请填写撤回原因"), Length(max=200, message="原因不超过200个字符")])


class ReviewGrantForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
