"""Forms for products (HQ) and for recording a customer's insistence."""
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Regexp

from blueprints.products.rules import RISK_LEVEL_LABELS
from core.forms import BaseForm

PRODUCT_TYPES = {"fund": "公募基金", "asset_management": "资产管理计划", "structured": "收益凭证", "private": "私募产品",
                 "bond": "债券"}


class ProductForm(BaseForm):
    code = StringField("产品代码", validators=[InputRequired("请填写产品代码"), Length(max=16, message="最多 16 位"),
                                            Regexp(r"^[0-9A-Za-z]+$", message="产品代码由字母和数字组成")])
    name = StringField("产品名称", validators=[InputRequired("请填写产品名称"), Length(max=100, message="最多 100 字")])
    product_type = SelectField("产品类型", choices=[SelectChoice(k, v) for k, v in PRODUCT_TYPES.items()])
    risk_level = SelectField("风险等级", choices=[SelectChoice(k, v) for k, v in RISK_LEVEL_LABELS.items()],
                             validators=[InputRequired("请选择风险等级")])
    on_sale = BooleanField("在售")

    def values(self) -> dict:
        return {"code": self.code.data.strip().upper(), "name": self.name.data.strip(),
                "product_type": self.product_type.data, "risk_level": self.risk_level.data,
                "on_sale": bool(self.on_sale.data)}


class InsistForm(BaseForm):
    customer_no = HiddenField()
    product_id = HiddenField()
    client_token = HiddenField()
    acknowledgement = FileField("客户签署的《风险不匹配警示及投资者确认书》扫描件（PDF/JPG/PNG）",
                                validators=[FileRequired("请上传客户签署的确认书扫描件")])
