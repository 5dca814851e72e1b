"""Forms of the grading screens: an import upload, a grade rule."""
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from blueprints.grading.models import IMPORT_KIND_LABELS
from blueprints.grading.rules import GRADE_LABELS
from core.forms import BaseForm

AMOUNT_MESSAGE = "请输入金额（元），最多两位小数"


class ImportForm(BaseForm):
    kind = SelectField("导入内容", validators=[InputRequired("请选择导入内容")])
    file = FileField("文件（CSV 或 Excel .xlsx）", validators=[FileRequired("请选择要导入的文件")])
    client_token = HiddenField()

    def __init__(self, kinds, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice(kind.value, IMPORT_KIND_LABELS[kind]) for kind in kinds]


def _amount(label: str) -> DecimalField:
    return DecimalField(label, places=2, invalid_value_message=AMOUNT_MESSAGE, validators=[Optional(), NumberRange(min=0, message="不能为负数")],
                        render_kw={"inputmode": "decimal"})


class RuleForm(BaseForm):
    grade = SelectField("级别", choices=[SelectChoice(k, v) for k, v in GRADE_LABELS.items()], validators=[InputRequired("请选择级别")])
    precedence = IntegerField("优先级（数字小者先判断）", invalid_value_message="请填写整数", validators=[
        InputRequired("请填写优先级"), NumberRange(min=1, max=9999, message="优先级须在 1 至 9999 之间")])
    min_average_assets = _amount("20日日均资产不低于（元）")
    min_total_assets = _amount("总资产不低于（元）")
    min_contribution = _amount("近一年佣金贡献不低于（元）")
    min_tenure_months = IntegerField("开户时长不少于（月）", invalid_value_message="请填写整数（月）", validators=[
        Optional(), NumberRange(min=0, max=1200, message="开户时长须在 0 至 1200 个月之间")])
    enabled = BooleanField("启用")

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "grade", "precedence", "min_average_assets", "min_total_assets", "min_contribution", "min_tenure_months",
            "enabled")}

    def fill_from(self, rule) -> None:
        for name in self.values():
            getattr(self, name).data = getattr(rule, name)
