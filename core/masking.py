"""Mask personal data (ID numbers, mobiles, names, bank cards, addresses) for display."""

from __future__ import annotations

import re

MASK_CHAR = "*"
ADDRESS_MASK = "****"

# Characters that never occur in an administrative-division name but do occur
# in street-level detail; a "segment" containing one is not a division, and
# keeping it would leak the street address.
_NOT_A_DIVISION = r"0-9０-９路街巷弄号號栋幢楼樓室村组組苑#"
_SEGMENT = rf"[^{_NOT_A_DIVISION}]"
# Province and prefecture names never contain 区 or 县 before their suffix;
# seeing one means the text has already reached county level.
_UPPER_SEGMENT = rf"[^{_NOT_A_DIVISION}区县]"

# Province level: a province, an autonomous region, or a municipality/city
# when the province is omitted (北京市, 深圳市 ...). Longest real name is
# 新疆维吾尔自治区 (8 characters).
_PROVINCE_RE = re.compile(rf"{_UPPER_SEGMENT}{{1,9}}?(?:自治区|省|市)")
# Prefecture level below a province (深圳市, 恩施土家族苗族自治州, 阿拉善盟 ...).
_PREFECTURE_RE = re.compile(rf"{_UPPER_SEGMENT}{{1,11}}?(?:市|州|盟|地区)")
# County level (南山区, 道县, 积石山保安族东乡族撒拉族自治县, 达尔罕茂明安联合旗 ...).
_COUNTY_RE = re.compile(rf"{_SEGMENT}{{1,14}}?(?:区|县|市|旗)")

_UNRECOGNISED_KEEP = 6
_CARD_MIN_LENGTH = 16


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _compact(value: object) -> str:
    # Separators typed for readability carry no information and would shift
    # which characters end up visible.
    return "".join(ch for ch in _text(value) if not ch.isspace() and ch != "-")


def _keep_ends(text: str, head: int, tail: int) -> str:
    hidden = len(text) - head - tail
    return text[:head] + MASK_CHAR * hidden + text[len(text) - tail:]


def mask_id_number(value: str | None) -> str:
    text = _compact(value)
    # Showing first and last of a 1-2 character value would show all of it.
    if len(text) <= 2:
        return MASK_CHAR * len(text)
    return _keep_ends(text, 1, 1)


def mask_mobile(value: object) -> str:
    text = _compact(value)
    if len(text) >= 11:
        return _keep_ends(text, 3, 4)
    if len(text) <= 2:
        return MASK_CHAR * len(text)
    return _keep_ends(text, 0, 2)


def mask_name(value: object) -> str:
    text = _text(value).strip()
    if len(text) <= 1:
        return MASK_CHAR * len(text)
    return _keep_ends(text, 1, 0)


def mask_bank_card(value: object) -> str:
    text = _compact(value)
    # First 6 (the issuer) + last 4 only on a whole card number (16-19 digits): on a shorter value
    # they would leave one or two account digits hidden.
    if len(text) >= _CARD_MIN_LENGTH:
        return _keep_ends(text, 6, 4)
    if len(text) <= 4:
        return MASK_CHAR * len(text)
    # Last 4, and never half of a short value.
    return _keep_ends(text, 0, min(4, len(text) // 2))


def _division_prefix(text: str) -> str | None:
    province = _PROVINCE_RE.match(text)
    if province is None:
        return None
    end = province.end()
    # Tried after a municipality too: 苏州市昆山市 is prefecture plus county.
    prefecture = _PREFECTURE_RE.match(text, end)
    if prefecture is not None:
        end = prefecture.end()
    county = _COUNTY_RE.match(text, end)
    if county is not None:
        end = county.end()
    return text[:end]


def mask_address(value: object) -> str:
    text = _text(value).strip()
    if not text:
        return ""
    head = text.rstrip(MASK_CHAR)
    if text.endswith(ADDRESS_MASK) and MASK_CHAR not in head and len(head) <= _UNRECOGNISED_KEEP:
        # Already masked: what the first masking kept stays, whatever the length rule says of the result.
        return head + ADDRESS_MASK
    kept = _division_prefix(text)
    if kept is None:
        # Keeping six characters of a short address would reveal most of it.
        kept = text[: min(_UNRECOGNISED_KEEP, len(text) // 2)]
    if kept == text:
        return text
    return kept + ADDRESS_MASK
