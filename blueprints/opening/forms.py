"""Forms of the opening wizard; the rules themselves live in rules.py."""
from datetime import date

from core.forms import BaseForm
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from stdnum import luhn

from blueprints.opening import rules
from core import choices
from core.reference import BANKS, ID_TYPE_LABELS, IdType
from core.timeutil import business_today

REQUIRED = "此项为必填项"
# Occupations without an employer to name.
NOT_EMPLOYED = ("student", "retired", "unemployed")
DATE_FORMAT_MESSAGE = "请输入正确的日期（年-月-日）"


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _options(mapping: dict, blank: str | None = None) -> list[SelectChoice]:
    options = [SelectChoice("", blank)] if blank else []
    return options + [SelectChoice(value, label) for value, label in mapping.items()]


class ChannelForm(BaseForm):
    """Step 1: channel and customer type."""

    client_token = HiddenField()
    channel = RadioField("开户方式", choices=_options(choices.CHANNELS), validators=[InputRequired("请选择开户方式")])
    customer_type = RadioField("客户类型", choices=_options(choices.CUSTOMER_TYPES), validators=[InputRequired("请选择客户类型")])

    def validate_channel(self, field):
        if field.data not in choices.ENABLED_CHANNELS:
            raise ValidationError(f"暂不支持{choices.CHANNELS.get(field.data, '该方式')}，请选择现场开户或见证开户")

    def validate_customer_type(self, field):
        if field.data not in choices.ENABLED_CUSTOMER_TYPES:
            raise ValidationError("暂只支持个人客户开户")


def _id_document_fields(prefix: str = "", prefix_label: str = "") -> dict:
    """Fields shared by the customer's and the agent's identity document."""
    fields = dict(
        id_type=SelectField(f"{prefix_label}证件类型", choices=_options({t.value: ID_TYPE_LABELS[t] for t in IdType}),
                            validators=[InputRequired("请选择证件类型")]),
        id_number=StringField(f"{prefix_label}证件号码", validators=[DataRequired(REQUIRED), Length(max=32, message="证件号码过长")]),
        name=StringField(f"{prefix_label}姓名", validators=[DataRequired(REQUIRED), Length(max=60, message="姓名过长")]),
        sex=RadioField("性别", choices=_options(choices.SEXES), validators=[InputRequired("请选择性别")]),
        birth_date=DateField("出生日期", invalid_value_message=DATE_FORMAT_MESSAGE, validators=[InputRequired(DATE_FORMAT_MESSAGE)]),
        valid_from=DateField("有效期起", invalid_value_message=DATE_FORMAT_MESSAGE, validators=[InputRequired(DATE_FORMAT_MESSAGE)]),
        valid_to=DateField("有效期止", invalid_value_message=DATE_FORMAT_MESSAGE, validators=[Optional()]),
        valid_long_term=BooleanField("长期有效"),
    )
    return {prefix + name: field for name, field in fields.items()}


def _add_fields(form_class, fields: dict) -> None:
    # FormMeta.__setattr__ registers unbound fields added after the class body.
    for name, field in fields.items():
        setattr(form_class, name, field)


def _id_document_errors(form, today: date, require_ethnicity: bool = True) -> list[rules.FieldError]:
    if not form.valid_long_term.data and form.valid_to.data is None:
        return [rules.FieldError("valid_to", "请填写有效期止，或勾选“长期有效”")]
    id_type = IdType(form.id_type.data)
    number = rules.normalize_id_number(id_type, form.id_number.data or "")
    form.id_number.data = number
    doc = rules.IdDocument(
        id_type=id_type,
        id_number=number,
        name=(form.name.data or "").strip(),
        sex=form.sex.data,
        birth_date=form.birth_date.data,
        valid_from=form.valid_from.data,
        valid_to=None if form.valid_long_term.data else form.valid_to.data,
        ethnicity=getattr(form, "ethnicity", None) and form.ethnicity.data or None,
    )
    return rules.check_id_document(doc, today, require_ethnicity=require_ethnicity)


def _apply_rule_errors(form, errors) -> bool:
    for error in errors:
        field = getattr(form, error.field, None) or form.id_number
        field.errors = list(field.errors) + [error.message]
    return not errors


class IdentityForm(BaseForm):
    """Step 2: the customer's identity document."""

    ethnicity = SelectField("民族", choices=_options({e: e for e in rules.ETHNICITIES}, blank="（非居民身份证可不填）"), validators=[Optional()])
    address = StringField("证件地址", validators=[DataRequired(REQUIRED), Length(max=120, message="地址过长")])
    authority = StringField("签发机关", validators=[DataRequired(REQUIRED), Length(max=60, message="签发机关过长")])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok or self.sex.data is None:
            return False
        return _apply_rule_errors(self, _id_document_errors(self, business_today()))

    def to_data(self) -> dict:
        return {
            "id_type": self.id_type.data,
            "id_number": self.id_number.data,
            "name": self.name.data.strip(),
            "sex": self.sex.data,
            "ethnicity": self.ethnicity.data or None,
            "birth_date": self.birth_date.data.isoformat(),
            "address": self.address.data.strip(),
            "authority": self.authority.data.strip(),
            "valid_from": self.valid_from.data.isoformat(),
            "valid_to": None if self.valid_long_term.data else self.valid_to.data.isoformat(),
        }


_add_fields(IdentityForm, _id_document_fields())


class ContactForm(BaseForm):
    """Step 3: contact details and profile."""

    mobile = StringField("手机号码", validators=[DataRequired(REQUIRED)])
    email = StringField("电子邮箱", validators=[Optional(), Email("电子邮箱格式不正确"), Length(max=120, message="电子邮箱不超过120个字符")])
    address = StringField("联系地址", validators=[DataRequired(REQUIRED), Length(max=120, message="地址过长")])
    postcode = StringField("邮政编码", validators=[DataRequired(REQUIRED)])
    # Choices come from the occupation dictionary when the form is built (see __init__).
    occupation = SelectField("职业", choices=[], validators=[DataRequired("请选择职业")], validate_choice=False)
    education = SelectField("学历", choices=_options(choices.EDUCATION, blank="请选择"), validators=[DataRequired("请选择学历")])
    employer = StringField("工作单位", validators=[Length(max=100, message="工作单位过长")])
    tax_residency = RadioField("税收居民身份声明", choices=_options(choices.TAX_RESIDENCY), validators=[InputRequired("请选择税收居民身份")])
    # No Optional(): it would stop the chain before the checks that require these.
    tax_country = StringField("税收居民国（地区）", validators=[Length(max=60, message="税收居民国（地区）不超过60个字符")])
    tax_id = StringField("纳税人识别号", validators=[Length(max=40, message="纳税人识别号不超过40个字符")])

    def __init__(self, *args, keep_occupation: str | None = None, **kwargs):
        """`keep_occupation`: the record's current occupation, still offered (and accepted) if since disabled."""
        super().__init__(*args, **kwargs)
        from blueprints.dictionaries import services as dictionaries

        self._offered = dictionaries.options("occupation", keep=keep_occupation)
        self.occupation.choices = [SelectChoice("", "请选择")] + [SelectChoice(code, text) for code, text in self._offered]

    def validate_occupation(self, field):
        if field.data and field.data not in {code for code, _ in self._offered}:
            raise ValidationError("所选职业已停用或不存在，请重新选择")

    def validate_mobile(self, field):
        number, error = rules.check_mobile(field.data or "")
        if error:
            raise ValidationError(error.message)
        field.data = number

    def validate_postcode(self, field):
        error = rules.check_postcode((field.data or "").strip())
        if error:
            raise ValidationError(error.message)

    def validate_employer(self, field):
        if self.occupation.data not in ("", None, *NOT_EMPLOYED) and not (field.data or "").strip():
            raise ValidationError("在职客户请填写工作单位")

    def validate_tax_country(self, field):
        if self.tax_residency.data in ("non_cn", "both") and not (field.data or "").strip():
            raise ValidationError("非仅中国税收居民须填写税收居民国（地区）")

    def validate_tax_id(self, field):
        if self.tax_residency.data in ("non_cn", "both") and not (field.data or "").strip():
            raise ValidationError("非仅中国税收居民须填写纳税人识别号")

    def to_data(self) -> dict:
        return {name: (getattr(self, name).data or "").strip() or None for name in
                ("mobile", "email", "address", "postcode", "occupation", "education", "employer",
                 "tax_residency", "tax_country", "tax_id")}


class AgentForm(BaseForm):
    """Step 5: an agent (代理人) opening on the customer's behalf, if any."""

    has_agent = RadioField("是否由代理人办理", choices=_options({"no": "否，客户本人办理", "yes": "是，由代理人办理"}),
                           validators=[InputRequired("请选择是否由代理人办理")])
    relationship = SelectField("与客户关系", choices=_options(choices.AGENT_RELATIONSHIPS, blank="请选择"), validators=[Optional()])
    authorization_ref = StringField("授权委托书编号", validators=[Optional(), Length(max=40, message="授权委托书编号不超过40个字符")])
    notarization_no = StringField("公证书编号", validators=[Optional(), Length(max=40, message="公证书编号不超过40个字符")])

    AGENT_FIELDS = ("agent_id_type", "agent_id_number", "agent_name", "agent_sex", "agent_birth_date",
                    "agent_valid_from", "agent_valid_to", "agent_valid_long_term")

    def __init__(self, *args, customer_type: str = "individual", customer_id_number: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer_type = customer_type
        self.customer_id_number = customer_id_number

    def validate(self, extra_validators=None) -> bool:
        if self.has_agent.data != "yes":
            # Without an agent, the agent fields are not part of the step at all.
            if not self.has_agent.validate(self):
                return False
            return self.csrf_token.validate(self) if hasattr(self, "csrf_token") else True
        if not super().validate(extra_validators):
            return False
        ok = True
        for name, message in (("relationship", "请选择代理人与客户的关系"), ("authorization_ref", "请填写授权委托书编号")):
            if not (getattr(self, name).data or "").strip():
                getattr(self, name).errors = [message]
                ok = False
        if self.customer_type == "individual" and not (self.notarization_no.data or "").strip():
            self.notarization_no.errors = ["自然人客户委托他人代理开户，须提供经公证的授权委托书（第六条），请填写公证书编号"]
            ok = False
        view = _AgentView(self)
        ok = _apply_rule_errors(view, _id_document_errors(view, business_today(), require_ethnicity=False)) and ok
        if ok and self.customer_id_number and self.agent_id_number.data == self.customer_id_number:
            self.agent_id_number.errors = ["代理人不能是客户本人"]
            ok = False
        return ok

    def to_data(self) -> dict:
        if self.has_agent.data != "yes":
            return {"has_agent": False}
        return {
            "has_agent": True,
            "id_type": self.agent_id_type.data,
            "id_number": self.agent_id_number.data,
            "name": self.agent_name.data.strip(),
            "sex": self.agent_sex.data,
            "birth_date": self.agent_birth_date.data.isoformat(),
            "valid_from": self.agent_valid_from.data.isoformat(),
            "valid_to": None if self.agent_valid_long_term.data else self.agent_valid_to.data.isoformat(),
            "relationship": self.relationship.data,
            "authorization_ref": self.authorization_ref.data.strip(),
            "notarization_no": (self.notarization_no.data or "").strip() or None,
        }


_add_fields(AgentForm, _id_document_fields("agent_", "代理人"))


class _AgentView:
    """Presents the agent_* fields under the plain names the shared rules use."""

    def __init__(self, form: AgentForm):
        self._form = form

    def __getattr__(self, name):
        return getattr(self._form, f"agent_{name}")


class DisclosureForm(BaseForm):
    """Step 6: investor education and risk disclosure."""

    explained_by = SelectField("讲解人员", coerce=int, validators=[InputRequired("请选择讲解人员")])
    customer_acknowledged = BooleanField("客户已阅读并理解风险揭示书，签字确认", validators=[DataRequired("须由客户阅读并签字确认风险揭示书")])
    agent_acknowledged = BooleanField("代理人已接受投资者教育并签字确认")

    def __init__(self, *args, has_agent: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_agent = has_agent

    def validate_agent_acknowledged(self, field):
        if self.has_agent and not field.data:
            raise ValidationError("由代理人办理时，代理人也须接受投资者教育并签字确认（第七条）")


class AgreementsForm(BaseForm):
    """Step 8: agreements signed, and the agreed ways to change key data and to close."""

    change_method = SelectField("关键信息变更方式（第十二条）", choices=_options(choices.CHANGE_METHODS, blank="请选择"),
                                validators=[DataRequired("请选择关键信息变更方式")])
    closure_method = SelectField("账户注销方式（第十三条）", choices=_options(choices.CLOSURE_METHODS, blank="请选择"),
                                 validators=[DataRequired("请选择账户注销方式")])
    bank_code = SelectField("存管银行", choices=_options(BANKS, blank="请选择"), validators=[DataRequired("请选择存管银行")])
    bank_card = StringField("银行卡号", validators=[DataRequired(REQUIRED)])

    def validate_bank_card(self, field):
        number = "".join(ch for ch in (field.data or "") if not ch.isspace() and ch != "-")
        if not number.isdigit() or not 16 <= len(number) <= 19:
            raise ValidationError("银行卡号应为16至19位数字")
        if not luhn.is_valid(number):
            raise ValidationError("银行卡号校验位错误，请核对卡号")
        field.data = number

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for key, title in choices.AGREEMENTS.items():
            field = getattr(self, f"agreement_{key}")
            if not field.data:
                field.errors = list(field.errors) + [f"客户须签署{title}"]
                ok = False
        return ok

    def to_data(self) -> dict:
        return {
            "agreements": sorted(key for key in choices.AGREEMENTS if getattr(self, f"agreement_{key}").data),
            "change_method": self.change_method.data,
            "closure_method": self.closure_method.data,
            "bank_code": self.bank_code.data,
            "bank_card": self.bank_card.data,
        }


_add_fields(AgreementsForm, {f"agreement_{key}": BooleanField(title) for key, title in choices.AGREEMENTS.items()})


class WitnessForm(BaseForm):
    """The witness step (见证开户, 第十七条): who met the customer, where, the photo and the signature."""

    # Choices are checked against the branch's staff by the route, with Chinese messages.
    present = SelectMultipleField("面见客户的工作人员", coerce=_int_or_none, widget=ListWidget(prefix_label=False),
                                  option_widget=CheckboxInput(), validate_choice=False)
    mode = RadioField("见证方式", choices=_options({"in_person": "两名及以上工作人员面见客户（现场见证）",
                                                "remote": "一名工作人员面见 + 见证人员远程实时视频见证"}),
                      validators=[InputRequired("请选择见证方式")])
    witness_id = SelectField("开户见证人员", coerce=_int_or_none, validate_choice=False,
                             validators=[InputRequired("请指定开户见证人员")])
    video_reference = StringField("视频会话编号", validators=[Length(max=60, message="视频会话编号不超过60个字符")])
    place = StringField("见证地点", validators=[DataRequired("请填写见证地点（详细地址）"), Length(max=120, message="见证地点不超过120个字符")])
    latitude = HiddenField()
    longitude = HiddenField()
    photo_consent = BooleanField("客户已单独同意采集人脸影像（个人信息保护法第二十九条）")
    photo = FileField("客户与工作人员合影")
    signature = HiddenField()
    work_id_shown = BooleanField("已向客户出示工作证件，并告知可通过公司网站查验")

    def validate_work_id_shown(self, field):
        if not field.data:
            raise ValidationError("须向客户出示工作证件并告知查验方式（第十七条）")

    def coordinates(self) -> tuple[float, float] | None:
        try:
            latitude, longitude = float(self.latitude.data), float(self.longitude.data)
        except (TypeError, ValueError):
            return None
        return (latitude, longitude) if -90 <= latitude <= 90 and -180 <= longitude <= 180 else None


class WithdrawForm(BaseForm):
    """Void an application (作废) with a reason; it stays in the history."""

    # No Optional(): it would stop the chain before the check that a reason is given.
    reason_code = RadioField("作废原因", choices=_options(choices.WITHDRAW_REASONS), validate_choice=False)
    reason = TextAreaField("说明", validators=[Length(max=200, message="说明不超过200字")],
                           render_kw={"rows": 3, "placeholder": "选择“其他原因”时必填"})

    def validate_reason_code(self, field):
        if field.data not in choices.WITHDRAW_REASONS and not (self.reason.data or "").strip():
            raise ValidationError("请选择作废原因")

    def validate_reason(self, field):
        if self.reason_code.data == "other" and not (field.data or "").strip():
            raise ValidationError("选择“其他原因”时，请填写说明")

    def full_reason(self) -> str:
        """The reason as the history shows it: the chosen reason, and what the clerk wrote."""
        detail = (self.reason.data or "").strip()
        code = self.reason_code.data if self.reason_code.data in choices.WITHDRAW_REASONS else "other"
        if code == "other":
            return detail
        label = choices.WITHDRAW_REASONS[code]
        return f"{label}：{detail}" if detail else label
