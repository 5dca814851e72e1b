"""Login form."""
from core.forms import BaseForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(BaseForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=32, message="用户名不超过32个字符")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=128, message="密码不超过128个字符")])
