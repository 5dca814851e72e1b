"""The password rules, without an app."""
import pytest

from core import passwords


@pytest.mark.parametrize("password, message", [
    ("", "密码至少8个字符"),
    ("Ab1!xyz", "密码至少8个字符"),
    ("x" * 63 + "yz", "密码不超过64个字符"),
    ("password", "该密码过于常见，容易被猜中，请换一个"),
    ("PassWord", "该密码过于常见，容易被猜中，请换一个"),
    ("ｐａｓｓｗｏｒｄ", "该密码过于常见，容易被猜中，请换一个"),  # full-width, as a Chinese input method types it
    ("woaini1314", "该密码过于常见，容易被猜中，请换一个"),
    ("1qaz2wsx", "该密码过于常见，容易被猜中，请换一个"),
    ("rtrtrtrtrt", "密码不能是重复或连续的字符"),
    ("k9k9k9k9k9", "密码不能是重复或连续的字符"),
    ("mnopqrstu", "密码不能是重复或连续的字符"),
    ("876543210", "密码不能是重复或连续的字符"),
    ("zhangwei-2026!", "密码不能包含用户名"),
])
def test_weak_passwords_are_refused_with_a_chinese_reason(password, message):
    assert message in passwords.problems(password, username="ZhangWei")


@pytest.mark.parametrize("password", ["Tiger-Moon-88", "春眠不觉晓处处闻", "correct horse battery", "x" * 62 + "yz",
                                      "Lq7#vR2m"])
def test_good_passwords_of_8_to_64_characters_pass(password):
    assert passwords.problems(password, username="zhangwei") == []


def test_the_limits_count_characters_not_bytes():
    assert passwords.problems("春眠不觉晓处处闻") == []  # 8 characters, 24 bytes
    assert passwords.problems("春眠不觉晓处处闻" * 8) == []  # 64 characters
    assert passwords.problems("春眠不觉晓处处闻" * 8 + "啼") == ["密码不超过64个字符"]


def test_the_shipped_list_holds_thousands_of_common_passwords_of_eight_or_more():
    common = passwords.common_passwords()
    assert len(common) > 5000
    assert all(len(p) >= passwords.MIN_LENGTH for p in common)
    assert {"password", "12345678", "iloveyou", "qwertyuiop"} <= common


def test_the_temporary_passwords_pass_the_rules():
    from blueprints.staff_admin.services import temporary_password

    made = {temporary_password() for _ in range(20)}
    assert len(made) == 20
    assert all(passwords.acceptable(p) for p in made)
