"""The base of every form: CSRF from Flask-WTF, and WTForms' own messages in Chinese."""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto, _is_submitted
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import DateField, FileField, Form, MultipleFileField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.i18n import get_translations

# WTForms ships Simplified Chinese translations of its built-in messages ("Not a valid
# choice", "Field cannot be longer than …"); a message a form gives itself wins anyway.
LOCALES = ("zh",)


# What WTForms' zh catalogue leaves in English, or says with a Latin word.
MISSING = {
    "Date must be at least %(min)s.": "日期不能早于 %(min)s。",
    "Date must be at most %(max)s.": "日期不能晚于 %(max)s。",
    "Date must be between %(min)s and %(max)s.": "日期须在 %(min)s 至 %(max)s 之间。",
    "This field cannot be edited.": "此项不能修改。",
    "This field is disabled and cannot have a value.": "此项已停用，不能填写。",
    "Invalid email address.": "电子邮箱地址格式不正确。",
    "Invalid Mac address.": "网卡地址格式不正确。",
    "Invalid URL.": "网址格式不正确。",
    "Invalid UUID.": "唯一标识格式不正确。",
    "Invalid CSRF Token.": "页面已过期，请刷新后重试。",
    "CSRF token missing.": "页面已过期，请刷新后重试。",
    "CSRF failed.": "页面已过期，请刷新后重试。",
    "CSRF token expired.": "页面已过期，请刷新后重试。",
    "Not a valid week value.": "周数格式不正确。",
}
MISSING_PLURAL = {
    "'%(value)s' is not a valid choice for this field.": ("“%(value)s”不是此项的有效选项。", "“%(value)s”不是此项的有效选项。"),
}


class _Chinese:
    """WTForms' zh catalogue, with what it lacks filled in."""

    def __init__(self, catalogue):
        self.catalogue = catalogue

    def gettext(self, string):
        return MISSING.get(string) or self.catalogue.gettext(string)

    def ngettext(self, singular, plural, n):
        if singular in MISSING_PLURAL:
            return MISSING_PLURAL[singular][0 if n == 1 else 1]
        return self.catalogue.ngettext(singular, plural, n)


class ChineseMeta:
    locales = LOCALES

    def get_translations(self, form):
        # Flask-WTF's own hook looks for Flask-Babel, which this app does not use.
        return _Chinese(get_translations(self.locales))


class _OneMessagePerField:
    """A value typed that did not parse ("abc" for a number) already has its message; a field's own
    checks (required, range) would only add a second one that misleads ("请输入" for something typed).
    A field left empty still gets its required message."""

    def validate(self, extra_validators=None):
        for field in self._fields.values():
            typed = field.raw_data and str(field.raw_data[0]).strip()
            if field.process_errors and typed:
                field.validators = ()  # this instance's list only; the class keeps its validators
        return super().validate(extra_validators)


class BaseForm(_OneMessagePerField, FlaskForm):
    """A posted form (with its CSRF token)."""

    class Meta(ChineseMeta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto or not _is_submitted():
                return super().wrap_formdata(form, formdata)
            # As Flask-WTF, but a JSON body is not read as the form (a list or a number in it was a 500):
            # the app's forms are posted as forms. And a file only reaches a file field: under a text
            # field's name it reached that field's checks as an object they cannot measure (a 500).
            file_names = {f.name for f in form if isinstance(f, (FileField, MultipleFileField))}
            files = MultiDict([(k, v) for k, v in request.files.items(multi=True) if k in file_names])
            if files:
                return CombinedMultiDict((files, request.form))
            return request.form or None
            if formdata is not request.form and not isinstance(formdata, CombinedMultiDict):
                # A JSON body, which Flask-WTF would read as the form (failing on a list or a number):
                # the app's forms are posted as forms only.
                return request.form
            if isinstance(formdata, CombinedMultiDict):
                # A file only reaches a file field: under a text field's name it would reach that field's
                # checks as an object they cannot measure (a 500 instead of a message).
                file_names = {f.name for f in form if isinstance(f, (FileField, MultipleFileField))}
                files = MultiDict([(k, v) for k, v in request.files.items(multi=True) if k in file_names])
                return CombinedMultiDict((files, request.form))
            return formdata


class QueryForm(_OneMessagePerField, Form):
    """A GET form read from the query string (filters): no CSRF token, Chinese messages."""

    class Meta(ChineseMeta):
        pass


class ReviewerCredentialsForm(BaseForm):
    """A reviewer's own name and password typed on the maker's screen (同机复核); not a login."""

    # Named apart from the login form's fields so the browser does not offer the clerk's saved login.
    reviewer_username = StringField("复核人用户名", validators=[DataRequired("请输入复核人用户名"),
                                                               Length(max=32, message="复核人用户名不超过32个字符")],
                                    render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"})
    reviewer_password = PasswordField("复核人密码", validators=[DataRequired("请输入复核人密码"),
                                                              Length(max=128, message="复核人密码不超过128个字符")],
                                      render_kw={"autocomplete": "off"})


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (the form macro renders them like radios)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


DATE_FORMAT_MESSAGE = "请输入正确的日期（年-月-日）"
DATE_ORDER_MESSAGE = "结束日期不能早于开始日期"


def date_field(label: str, required: str | None = None) -> DateField:
    """A date typed or picked (年-月-日); optional unless `required` gives the message for a blank one."""
    validators = [InputRequired(required)] if required else [Optional()]
    return DateField(label, validators=validators, invalid_value_message=DATE_FORMAT_MESSAGE)


def check_date_order(form) -> bool:
    """Put the date-order message next to the end date (`date_to` before `date_from`); True when usable."""
    if form.date_from.data and form.date_to.data and form.date_to.data < form.date_from.data:
        form.date_to.errors = [*form.date_to.errors, DATE_ORDER_MESSAGE]
        return False
    return True
