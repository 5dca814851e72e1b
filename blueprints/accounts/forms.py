"""Forms of the exceptions screen: correct and resend, cancel with a reason, retry now."""
from core.forms import BaseForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from blueprints.accounts.models import BANKS
from blueprints.accounts.services import BIND_DEPOSITORY, OPEN_ACCOUNTS
from blueprints.opening import rules
from blueprints.opening.forms import AgreementsForm

REASON_MAX = 200


def _revision(field) -> int | None:
    try:
        return int(field.data)
    except (TypeError, ValueError):
        return None


class _ResendForm(BaseForm):
    # The revision the person saw: a second click, or a colleague's resend meanwhile, is refused.
    revision = HiddenField()
    reason = StringField("处理说明", validators=[
        DataRequired("请填写处理说明，例如已与客户核对的情况"),
        Length(max=REASON_MAX, message=f"处理说明不能超过 {REASON_MAX} 字")])

    @property
    def expected_revision(self) -> int | None:
        return _revision(self.revision)


class ResendForm(_ResendForm):
    """Send a refused request again unchanged, once the cause is removed (nothing in it may be corrected)."""

    def corrections(self) -> dict:
        return {}


class BankCorrectionForm(_ResendForm):
    """The depository binding: the bank and the card number are what can be wrong."""

    bank_code = SelectField("存管银行", choices=[SelectChoice(code, name) for code, name in BANKS.items()],
                            validators=[DataRequired("请选择存管银行")])
    bank_card = StringField("银行卡号")

    def validate_bank_card(self, field):
        if not (field.data or "").strip():
            field.data = None  # left empty: the card stays as it was
            return
        AgreementsForm.validate_bank_card(self, field)  # the opening step's rule: 16–19 digits, Luhn

    def corrections(self) -> dict:
        values = {"bank_code": self.bank_code.data}
        if self.bank_card.data:
            values["bank_card"] = self.bank_card.data
        return values


class ContactCorrectionForm(_ResendForm):
    """China Clearing: the contact details registered with the 一码通; empty fields stay as they were."""

    mobile = StringField("手机号码")
    address = StringField("联系地址", validators=[Length(max=120, message="地址过长")])
    postcode = StringField("邮政编码")

    def validate_mobile(self, field):
        if not (field.data or "").strip():
            field.data = None
            return
        number, error = rules.check_mobile(field.data)
        if error:
            raise ValidationError(error.message)
        field.data = number

    def validate_address(self, field):
        field.data = (field.data or "").strip() or None

    def validate_postcode(self, field):
        if not (field.data or "").strip():
            field.data = None
            return
        error = rules.check_postcode(field.data)
        if error:
            raise ValidationError(error.message)
        field.data = field.data.strip()

    def corrections(self) -> dict:
        return {name: getattr(self, name).data for name in ("mobile", "address", "postcode")
                if getattr(self, name).data}


CORRECTION_FORMS = {BIND_DEPOSITORY: BankCorrectionForm, OPEN_ACCOUNTS: ContactCorrectionForm}


class CancelForm(BaseForm):
    """Give up on a refused request, saying why."""

    revision = HiddenField()
    reason = StringField("撤销原因", validators=[
        DataRequired("撤销须填写原因"),
        Length(max=REASON_MAX, message=f"撤销原因不能超过 {REASON_MAX} 字")])

    @property
    def expected_revision(self) -> int | None:
        return _revision(self.revision)


class RetryForm(BaseForm):
    """Bring the next attempt forward (the CSRF token is all it carries)."""
