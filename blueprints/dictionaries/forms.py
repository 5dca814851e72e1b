"""The entry forms of the dictionaries."""
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from core.forms import BaseForm


class EditEntryForm(BaseForm):
    label = StringField("中文名称", validators=[DataRequired("请填写中文名称"), Length(max=60, message="中文名称不超过60个字符")])
    position = IntegerField("排序", invalid_value_message="排序为0–99999的整数", validators=[InputRequired("请填写排序（整数，小的在前）"),
                                              NumberRange(min=0, max=99999, message="排序为0–99999的整数")])
    enabled = BooleanField("启用（停用后不再供选择，已有记录仍显示原名称）")


class NewEntryForm(EditEntryForm):
    code = StringField("代码", validators=[DataRequired("请填写代码"), Length(max=32, message="代码不超过32个字符")])
