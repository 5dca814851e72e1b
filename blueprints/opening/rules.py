"""Validation rules for identity documents, mobile numbers and postcodes at account opening."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_exc
from stdnum import numdb
from stdnum.cn import ric
from stdnum.iso7064 import mod_11_2

from core.reference import ID_TYPE_LABELS, IdType

LONG_TERM = "长期"
MINIMUM_AGE = 18

# Order follows GB/T 3304 so that select boxes list 汉族 first and the rest
# in the sequence clerks are used to from the public-security systems.
ETHNICITIES: tuple[str, ...] = (
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族",
    "布依族", "朝鲜族", "满族", "侗族", "瑶族", "白族", "土家族", "哈尼族",
    "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族", "拉祜族",
    "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族", "仫佬族",
    "羌族", "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族", "阿昌族", "普米族",
    "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族", "鄂温克族", "德昂族", "保安族", "裕固族",
    "京族", "塔塔尔族", "独龙族", "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
)

SEX_LABELS = {"M": "男", "F": "女"}

HMT_PREFIXES = {"810000": "香港", "820000": "澳门", "830000": "台湾"}

# Birth dates before this are data-entry errors, not customers.
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

_NAME_MIN_LENGTH = 2
_NAME_MAX_LENGTH = 60

# Basic block, compatibility ideographs, 〇 and Extensions A-I: rare
# characters in real names (䶮, 𠀀 ...) live outside the basic block.
_HAN = (
    "\u3007"
    "\u3400-\u4dbf"
    "\u4e00-\u9fff"
    "\uf900-\ufaff"
    "\U00020000-\U0002a6df"
    "\U0002a700-\U0002ee5f"
    "\U0002f800-\U0002fa1f"
    "\U00030000-\U000323af"
)
# The middle dot separates parts of transliterated minority names
# (e.g. 阿依古丽·买买提); it may not lead, trail or repeat.
_RESIDENT_NAME_RE = re.compile(f"[{_HAN}]+(?:·[{_HAN}]+)*")

# re.ASCII keeps \d from matching Arabic-Indic or full-width digits.
_EIGHTEEN_RE = re.compile(r"\d{17}[\dX]", re.ASCII)
_FOREIGN_2017_RE = re.compile(r"[A-Z]{3}\d{12}", re.ASCII)
_FOREIGN_2023_RE = re.compile(r"9\d{16}[\dX]", re.ASCII)
_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,17}", re.ASCII)
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})-(\d{2})|(\d{2})(\d{2})|\.(\d{2})\.(\d{2}))", re.ASCII)
_MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_POSTCODE_RE = re.compile(r"\d{6}", re.ASCII)

# Full-width ASCII variants (U+FF01..U+FF5E) sit at a fixed offset from ASCII;
# Chinese input methods produce them when the clerk forgets to switch modes.
_FULL_WIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class IdDocument:
    id_type: IdType
    id_number: str
    name: str
    sex: str
    birth_date: date
    valid_from: date
    valid_to: date | None
    ethnicity: str | None = None


def _to_half_width(raw: str) -> str:
    return raw.translate(_FULL_WIDTH_TO_ASCII)


def normalize_id_number(id_type: IdType, raw: str) -> str:
    text = _to_half_width(raw or "")
    text = "".join(text.split())
    # Only ASCII is upper-cased: str.upper() would turn e.g. Turkish "ı" into
    # a plain "I" and let a foreign character pass the format checks.
    return "".join(ch.upper() if ch.isascii() else ch for ch in text)


def _coerce_id_type(id_type: IdType | str) -> IdType:
    try:
        return IdType(id_type)
    except ValueError:
        raise ValueError(f"未知的证件类型：{id_type!r}") from None


def _date_in_digits(digits: str) -> date | None:
    try:
        parsed = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return parsed if parsed >= _EARLIEST_BIRTH_DATE else None


def _region_code_known(number: str) -> bool:
    # stdnum's own lookup also requires the code to have existed in the birth
    # year. Numbers are assigned at first registration, which can be long
    # after birth (Hainan residents born before 1988 hold 46xxxx numbers), so
    # that stricter test would refuse genuine customers. Existence alone is
    # checked here.
    results = numdb.get("cn/loc").info(number[:6])
    return any("county" in props for _part, props in results)


def _id_error(message: str) -> list[FieldError]:
    return [FieldError("id_number", message)]


def _check_resident_id(number: str) -> list[FieldError]:
    if len(number) == 15 and number.isascii() and number.isdigit():
        return _id_error("不支持15位一代身份证号码，请使用18位二代居民身份证号码")
    if number[:2] in {"81", "82", "83"}:
        return _id_error(
            "81、82、83开头的号码是港澳台居民居住证号码，请将证件类型改为“港澳台居民居住证”"
        )
    if number[:1] == "9" and len(number) == 18:
        return _id_error(
            "9开头的18位号码是外国人永久居留身份证号码，请将证件类型改为“外国人永久居留身份证”"
        )
    try:
        ric.validate(number)
    except stdnum_exc.InvalidLength:
        return _id_error(f"居民身份证号码应为18位，当前为{len(number)}位")
    except (stdnum_exc.InvalidFormat, stdnum_exc.InvalidChecksum):
        # stdnum only checks the first 17 characters for digits, so a stray
        # last character would otherwise be reported as a checksum error.
        if not _EIGHTEEN_RE.fullmatch(number):
            return _id_error("居民身份证号码格式错误：前17位必须是数字，最后一位为数字或X")
        return _id_error("身份证号码校验位错误，请核对最后一位")
    except (stdnum_exc.InvalidComponent, KeyError):
        # stdnum raises InvalidComponent for both a bad date and a bad region
        # (and KeyError for an unknown county in a known province); the checks
        # below tell the clerk which digits to re-check.
        pass
    if _date_in_digits(number[6:14]) is None:
        return _id_error(f"身份证号码第7至14位的出生日期{number[6:14]}无效，请核对")
    if not _region_code_known(number):
        return _id_error(f"身份证号码前6位地区码{number[:6]}不存在，请核对")
    return []


def _check_mod_11_2_number(number: str, label: str) -> list[FieldError]:
    try:
        mod_11_2.validate(number)
    except stdnum_exc.ValidationError:
        return _id_error(f"{label}号码校验位错误，请核对最后一位")
    if _date_in_digits(number[6:14]) is None:
        return _id_error(f"{label}号码第7至14位的出生日期{number[6:14]}无效，请核对")
    return []


def _check_hmt_permit(number: str) -> list[FieldError]:
    label = ID_TYPE_LABELS[IdType.HMT_RESIDENCE_PERMIT]
    if len(number) != 18:
        return _id_error(f"{label}号码应为18位，当前为{len(number)}位")
    if not _EIGHTEEN_RE.fullmatch(number):
        return _id_error(f"{label}号码格式错误：前17位必须是数字，最后一位为数字或X")
    if number[:6] not in HMT_PREFIXES:
        return _id_error(
            f"{label}号码前6位应为810000（香港）、820000（澳门）或830000（台湾），"
            f"当前为{number[:6]}"
        )
    return _check_mod_11_2_number(number, label)


def _check_foreign_permanent_residence(number: str) -> list[FieldError]:
    label = ID_TYPE_LABELS[IdType.FOREIGN_PERMANENT_RESIDENCE]
    if len(number) == 15:
        if _FOREIGN_2017_RE.fullmatch(number):
            return []
        return _id_error(f"2017版{label}号码应为3位大写英文字母加12位数字")
    if len(number) == 18:
        if _FOREIGN_2023_RE.fullmatch(number):
            return _check_mod_11_2_number(number, label)
        return _id_error(
            f"2023版{label}号码应以9开头，前17位为数字，最后一位为数字或X"
        )
    return _id_error(
        f"{label}号码应为15位（2017版）或18位（2023版），当前为{len(number)}位"
    )


def _check_passport(number: str) -> list[FieldError]:
    if not 5 <= len(number) <= 17:
        return _id_error(f"护照号码应为5至17位，当前为{len(number)}位")
    if not _PASSPORT_RE.fullmatch(number):
        return _id_error("护照号码只能包含英文字母和数字")
    return []


_NUMBER_CHECKS = {
    IdType.RESIDENT_ID: _check_resident_id,
    IdType.HMT_RESIDENCE_PERMIT: _check_hmt_permit,
    IdType.FOREIGN_PERMANENT_RESIDENCE: _check_foreign_permanent_residence,
    IdType.PASSPORT: _check_passport,
}


def check_id_number(id_type: IdType, number: str) -> list[FieldError]:
    id_type = _coerce_id_type(id_type)
    # Normalising here as well keeps the verdict independent of how the clerk
    # typed the number; callers still store normalize_id_number()'s output.
    number = normalize_id_number(id_type, number)
    if not number:
        return _id_error("请填写证件号码")
    return _NUMBER_CHECKS[id_type](number)



def eighteen_digit_form(number: str) -> str | None:
    """The 18-digit number a first-generation 15-digit resident ID (一代身份证) was upgraded to (升位).

    The century "19" goes in front of the two-digit birth year and an ISO 7064 check digit at
    the end; None when `number` is not a valid 15-digit number.
    """
    number = normalize_id_number(IdType.RESIDENT_ID, number)
    if not (len(number) == 15 and number.isascii() and number.isdigit()):
        return None
    body = number[:6] + "19" + number[6:]
    upgraded = body + mod_11_2.calc_check_digit(body)
    # The date and region checks of an 18-digit number hold for the 15 digits it came from.
    return None if check_id_number(IdType.RESIDENT_ID, upgraded) else upgraded

def _carries_birth_date(id_type: IdType, number: str) -> bool:
    if id_type in (IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT):
        return True
    return id_type is IdType.FOREIGN_PERMANENT_RESIDENCE and len(number) == 18


def birth_date_from_id(id_type: IdType, number: str) -> date | None:
    id_type = _coerce_id_type(id_type)
    number = normalize_id_number(id_type, number)
    # Digits from an invalid number are not evidence of anything.
    if not _carries_birth_date(id_type, number) or check_id_number(id_type, number):
        return None
    return _date_in_digits(number[6:14])


def sex_from_id(id_type: IdType, number: str) -> str | None:
    id_type = _coerce_id_type(id_type)
    number = normalize_id_number(id_type, number)
    if not _carries_birth_date(id_type, number) or check_id_number(id_type, number):
        return None
    return "M" if int(number[16]) % 2 == 1 else "F"


def age_on(birth_date: date, today: date) -> int:
    # Comparing (month, day) tuples makes a 29 February birthday fall on
    # 1 March in common years, the conservative choice for a minimum age.
    had_birthday = (today.month, today.day) >= (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (0 if had_birthday else 1)


def parse_valid_to(raw: str) -> date | None:
    text = _to_half_width(raw or "").strip()
    if not text:
        raise ValueError("请填写证件有效期截止日期，长期有效的证件请填写“长期”")
    if text == LONG_TERM:
        return None
    match = _DATE_RE.fullmatch(text)
    if not match:
        raise ValueError(
            f"证件有效期截止日期“{text}”格式无法识别，"
            "请按YYYY-MM-DD、YYYYMMDD或YYYY.MM.DD填写，长期有效请填写“长期”"
        )
    year, *rest = match.groups()
    month, day = [part for part in rest if part is not None]
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"证件有效期截止日期“{text}”不是有效日期，请核对") from None


def _check_name(id_type: IdType, raw_name: str | None) -> list[FieldError]:
    name = (raw_name or "").strip()
    if not name:
        return [FieldError("name", "请填写姓名")]
    if not _NAME_MIN_LENGTH <= len(name) <= _NAME_MAX_LENGTH:
        return [FieldError(
            "name",
            f"姓名长度应为{_NAME_MIN_LENGTH}至{_NAME_MAX_LENGTH}个字符，当前为{len(name)}个",
        )]
    if id_type is IdType.RESIDENT_ID and not _RESIDENT_NAME_RE.fullmatch(name):
        return [FieldError(
            "name",
            "居民身份证姓名只能包含汉字和间隔号“·”（间隔号不能在开头、结尾或连续出现），"
            "请按证件原样填写",
        )]
    return []


def _check_ethnicity(ethnicity: str | None) -> list[FieldError]:
    value = (ethnicity or "").strip()
    if not value:
        return [FieldError("ethnicity", "请选择民族")]
    if value in ETHNICITIES:
        return []
    # The card prints "汉", "蒙古" ... without the trailing 族.
    if f"{value}族" in ETHNICITIES:
        return [FieldError("ethnicity", f"请填写民族全称“{value}族”")]
    return [FieldError("ethnicity", f"民族“{value}”不在56个民族之列，请从列表中选择")]


def check_id_document(doc: IdDocument, today: date, require_ethnicity: bool = True) -> list[FieldError]:
    """Check a document as entered; an agent's ethnicity is not recorded, so not required."""
    try:
        id_type = _coerce_id_type(doc.id_type)
    except ValueError:
        return [FieldError("id_type", "证件类型无效，请重新选择")]

    errors: list[FieldError] = []
    number_errors = check_id_number(id_type, doc.id_number)
    errors.extend(number_errors)

    errors.extend(_check_name(id_type, doc.name))

    sex_valid = doc.sex in SEX_LABELS
    if not sex_valid:
        errors.append(FieldError("sex", "请选择性别（男或女）"))

    # Only a valid number is compared with the entered data; otherwise one
    # typo would surface as three errors.
    if not number_errors:
        number_birth = birth_date_from_id(id_type, doc.id_number)
        if number_birth is not None and number_birth != doc.birth_date:
            errors.append(FieldError(
                "birth_date",
                f"出生日期与证件号码不一致：证件号码显示出生日期为{number_birth.isoformat()}",
            ))
        number_sex = sex_from_id(id_type, doc.id_number)
        if sex_valid and number_sex is not None and number_sex != doc.sex:
            errors.append(FieldError(
                "sex", f"性别与证件号码不一致：证件号码显示为{SEX_LABELS[number_sex]}性"
            ))

    if doc.birth_date > today:
        errors.append(FieldError("birth_date", "出生日期不能晚于今天"))
    else:
        age = age_on(doc.birth_date, today)
        if age < MINIMUM_AGE:
            errors.append(FieldError(
                "birth_date",
                f"客户未满{MINIMUM_AGE}周岁（当前{age}周岁），不能开立证券账户",
            ))

    if doc.valid_from > today:
        errors.append(FieldError(
            "valid_from", f"证件有效期起始日期{doc.valid_from.isoformat()}晚于今天，请核对"
        ))

    if doc.valid_to is not None:
        if doc.valid_to <= doc.valid_from:
            errors.append(FieldError(
                "valid_to",
                f"证件有效期截止日期{doc.valid_to.isoformat()}必须晚于起始日期"
                f"{doc.valid_from.isoformat()}",
            ))
        elif doc.valid_to < today:
            # The end date printed on the card is its last valid day.
            errors.append(FieldError(
                "valid_to", f"证件已于{doc.valid_to.isoformat()}过期，不能开户"
            ))

    if id_type is IdType.RESIDENT_ID and require_ethnicity:
        errors.extend(_check_ethnicity(doc.ethnicity))

    return errors


def check_mobile(raw: str) -> tuple[str | None, FieldError | None]:
    text = _to_half_width(raw or "")
    text = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    if not text:
        return None, FieldError("mobile", "请填写手机号码")
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        # A bare 86 is only a country code when 11 digits follow; no mainland
        # mobile number itself starts with 86.
        text = text[2:]
    elif text.startswith("+") or text.startswith("00"):
        return None, FieldError("mobile", "仅支持中国大陆手机号码（+86）")
    if not (text.isascii() and text.isdigit()):
        return None, FieldError("mobile", "手机号码只能包含数字、空格、短横线和+86前缀")
    if len(text) != 11:
        return None, FieldError("mobile", f"手机号码应为11位，当前为{len(text)}位")
    if not _MOBILE_RE.fullmatch(text):
        return None, FieldError("mobile", "手机号码应以13至19开头，请核对")
    return text, None


def check_postcode(raw: str) -> FieldError | None:
    # Surrounding whitespace is tolerated; the caller stores the stripped value.
    text = (raw or "").strip()
    if not text:
        return FieldError("postcode", "请填写邮政编码")
    if not _POSTCODE_RE.fullmatch(text):
        return FieldError("postcode", f"邮政编码应为6位数字，当前填写“{text}”")
    return None
