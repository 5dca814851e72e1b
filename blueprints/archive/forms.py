"""Forms of the archive screens: search, the lending purpose (借阅目的), scan upload, register filters, exports."""
from core.forms import BaseForm, QueryForm, check_date_order, date_field
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from blueprints.archive.models import LENDING_ACTION_LABELS, SCAN_TYPE_LABELS

CUSTOMER_NO_MESSAGE = "客户号由字母和数字组成，最多 16 位"
BRANCH_MESSAGE = "只能选择本营业部"
# The usual reasons for reading a file; "other" asks for the reason in words.
PURPOSES = ("客户投诉处理", "监管检查", "内部审计", "业务核查")
OTHER_PURPOSE = "other"
PURPOSE_DETAIL_MAX = 200


class _BranchChoice:
    """A branch select offering only the branches the user may pick; the value is the branch id."""

    def _set_branches(self, branches, blank: str | None) -> None:
        self._branch_ids = {str(branch.id) for branch in branches}
        options = [SelectChoice("", blank)] if blank else []
        self.branch.choices = options + [SelectChoice(str(branch.id), branch.name) for branch in branches]

    def validate_branch(self, field):
        if field.data and field.data not in self._branch_ids:
            raise ValidationError(BRANCH_MESSAGE)

    @property
    def branch_id(self) -> int | None:
        return int(self.branch.data) if self.branch.data else None


class ArchiveSearchForm(_BranchChoice, QueryForm):
    """Search criteria read from the query string (a GET form: no CSRF token, no name and no ID number)."""

    customer_no = StringField("客户号", validators=[Optional(), Regexp(r"^\s*[A-Za-z0-9]{1,16}\s*$", message=CUSTOMER_NO_MESSAGE)])
    date_from = date_field("开户日期起")
    date_to = date_field("开户日期止")
    branch = SelectField("营业部", validate_choice=False)

    def __init__(self, formdata, branches, all_branches: bool):
        super().__init__(formdata)
        self._set_branches(branches, "全部营业部" if all_branches else "本营业部可查阅的客户")

    def has_criteria(self) -> bool:
        """Whether anything was asked for: an empty form lists nothing."""
        return any(field.raw_data and field.raw_data[0].strip() for field in self)

    def validate(self, extra_validators=None) -> bool:
        return super().validate(extra_validators) and check_date_order(self)

    def criteria(self) -> dict:
        return {"customer_no": (self.customer_no.data or "").strip(),
                "date_from": self.date_from.data, "date_to": self.date_to.data, "branch_id": self.branch_id}

    def query_args(self) -> dict:
        """The criteria as typed, for the page links: this form's own fields only, whatever else the URL held."""
        return {field.name: field.raw_data[0] for field in self if field.raw_data and field.raw_data[0].strip()}


class NameSearchForm(BaseForm):
    """Search by name: posted, so that the name stays out of URLs, logs and history."""

    name = StringField("姓名", validators=[DataRequired("请输入姓名"), Length(max=60, message="姓名过长")])


class IdNumberSearchForm(BaseForm):
    """Search by ID number: posted, so that the number stays out of URLs, logs and history."""

    id_number = StringField("证件号码", validators=[DataRequired("请输入证件号码"), Length(max=32, message="证件号码过长")])


class PurposeForm(BaseForm):
    """Why a customer's file is read or taken out (借阅目的), entered in the lending register."""

    purpose = SelectField("借阅目的", choices=[SelectChoice("", "请选择借阅目的")]
                          + [SelectChoice(p, p) for p in PURPOSES] + [SelectChoice(OTHER_PURPOSE, "其他（在说明中填写）")],
                          validators=[InputRequired("请选择借阅目的")], validate_choice=False)
    detail = StringField("说明", validators=[Length(max=PURPOSE_DETAIL_MAX, message=f"说明不超过 {PURPOSE_DETAIL_MAX} 字")])

    def validate_purpose(self, field):
        if field.data not in (*PURPOSES, OTHER_PURPOSE):
            raise ValidationError("请选择借阅目的")

    def validate_detail(self, field):
        if self.purpose.data == OTHER_PURPOSE and not (field.data or "").strip():
            raise ValidationError("选择“其他”时请写明借阅目的")

    def purpose_text(self) -> str:
        """The purpose as registered: the chosen reason, then the detail typed."""
        detail = (self.detail.data or "").strip()
        if self.purpose.data == OTHER_PURPOSE:
            return detail
        return f"{self.purpose.data}：{detail}" if detail else self.purpose.data


class ScanUploadForm(BaseForm):
    """One scan for the customer's archive; its content is checked by services.add_scan."""

    scan_type = SelectField("影像类型", choices=[SelectChoice("", "请选择影像类型")]
                            + [SelectChoice(value, label) for value, label in SCAN_TYPE_LABELS.items()],
                            validators=[InputRequired("请选择影像类型")], validate_choice=False)
    scan = FileField("影像文件", validators=[FileRequired("请选择要上传的文件")])

    def validate_scan_type(self, field):
        if field.data not in {str(value) for value in SCAN_TYPE_LABELS}:
            raise ValidationError("请选择影像类型")


HOLD_REASON_MAX = 500


def _reason(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired("请填写理由（如法院案号、监管来函文号）"),
                                            Length(max=HOLD_REASON_MAX, message=f"理由不超过 {HOLD_REASON_MAX} 字")])


class HoldForm(BaseForm):
    """Place a legal hold (法律保全) on a customer's file, with why (prefix "hold")."""

    reason = _reason("保全理由")


class LiftHoldForm(BaseForm):
    """Lift the standing legal hold, with why (prefix "lift")."""

    reason = _reason("解除理由")


class GenerateDossierForm(BaseForm):
    """Generate a new dossier version (生成新版本): nothing to fill in besides the CSRF token."""


class RegisterFilterForm(QueryForm):
    """Filters of the lending register, read from the query string (a GET form: no CSRF token)."""

    staff = SelectField("借阅人", validate_choice=False)
    customer_no = StringField("客户号", validators=[Optional(), Regexp(r"^\s*[A-Za-z0-9]{1,16}\s*$", message=CUSTOMER_NO_MESSAGE)])
    action = SelectField("操作", choices=[SelectChoice("", "全部")]
                         + [SelectChoice(value, label) for value, label in LENDING_ACTION_LABELS.items()],
                         validate_choice=False)
    date_from = date_field("日期起")
    date_to = date_field("日期止")

    def __init__(self, formdata, staff):
        super().__init__(formdata)
        self._staff_ids = {str(member.id) for member in staff}
        self.staff.choices = [SelectChoice("", "全部")] + [
            SelectChoice(str(member.id), f"{member.full_name}（{member.username}）") for member in staff]

    def validate_staff(self, field):
        if field.data and field.data not in self._staff_ids:
            raise ValidationError("请选择列表中的借阅人")

    def validate_action(self, field):
        if field.data and field.data not in {str(value) for value in LENDING_ACTION_LABELS}:
            raise ValidationError("请选择列表中的操作")

    def validate(self, extra_validators=None) -> bool:
        return super().validate(extra_validators) and check_date_order(self)

    def filters(self) -> dict:
        return {"staff_id": int(self.staff.data) if self.staff.data else None,
                "customer_no": (self.customer_no.data or "").strip(), "action": self.action.data or "",
                "date_from": self.date_from.data, "date_to": self.date_to.data}


class ExportForm(_BranchChoice, PurposeForm):
    """A batch export of a branch's dossiers for customers opened in a date range, with its purpose."""

    branch = SelectField("营业部", validators=[InputRequired("请选择营业部")], validate_choice=False)
    date_from = date_field("开户日期起", required="请选择开始日期")
    date_to = date_field("开户日期止", required="请选择结束日期")

    def __init__(self, *args, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_branches(branches, None)

    def validate(self, extra_validators=None) -> bool:
        return super().validate(extra_validators) and check_date_order(self)
