"""Decode the 256-byte UCS-2LE text block that an ID-card SAM returns (读基本信息 30 01).

Layouts, with byte offsets into the block. Every field is UCS-2 little endian,
left-aligned and padded with spaces (0x0020).

Resident ID card (second-generation 居民身份证):
    0 name 30 | 30 sex code 2 | 32 ethnicity code 4 | 36 birth date 16 |
    52 address 70 | 122 ID number 36 | 158 issuing authority 30 |
    188 valid from 16 | 204 valid to 16 | 220 reserved 36

HK/Macau/Taiwan residence permit (港澳台居民居住证), card type "J" at 248:
    0 name 30 | 30 sex code 2 | 32 blank (no ethnicity) 4 | 36 birth date 16 |
    52 address 70 | 122 ID number 36 | 158 issuing authority 30 |
    188 valid from 16 | 204 valid to 16 | 220 pass number 18 |
    238 issue count 4 | 242 reserved 6 | 248 card type 2 | 250 reserved 6

Foreigner permanent residence card, 2017 version (外国人永久居留身份证),
card type "I" at 248:
    0 English name 120 | 120 sex code 2 | 122 permit number 30 |
    152 nationality (ISO 3166-1 alpha-3) 6 | 158 Chinese name 30 |
    188 valid from 16 | 204 valid to 16 | 220 birth date 16 | 236 version 4 |
    240 accepting-authority code 8 | 248 card type 2 | 250 reserved 6

Sources (open-source reader drivers that agree on every offset above):
lochyhuang/DKCloudID_UART_Andoird IDCardData.java (resident and "J" layouts,
type test on byte 248), lixd17820/readcard ID2Txt.java (resident offsets),
a Miaxis face-terminal demo (analysisGreenCard / analysiGATCardInfo: the "I"
and "J" field sizes), yechangpeng/Paperless Centerm/IDCardDef.h (the "I"
field sizes: 120/2/30/6/30/16/16/16/4/8/2/6). They differ only in how much
of the "J" tail they call reserved, and in what an unknown type byte means:
the drivers fall back to the resident layout, we refuse it, since decoding
another layout as a resident card would put wrong data in the right places.

The 2023 foreigner card carries an 18-digit number that does not fit the
"I" layout's 30-byte field; its layout is not published in any source we
found, so any type character other than "I"/"J"/blank is refused as unknown
rather than guessed at.
"""

from __future__ import annotations

import re
from datetime import date

BLOCK_SIZE = 256
LONG_TERM = "长期"

# Output keys, in the order `python -m reader_agent decode` prints them.
KEYS: tuple[str, ...] = (
    "card_type", "name", "name_en", "sex", "ethnicity", "birth_date", "address",
    "id_number", "authority", "valid_from", "valid_to", "nationality",
    "pass_number", "issue_count",
)

# card_type values are the server's IdType values (core/reference.py),
# so the server can take them as they are.
RESIDENT_ID = "resident_id"
HMT_RESIDENCE_PERMIT = "hmt_residence_permit"
FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"

# Card type marker (one UCS-2 character at byte 248) -> card_type.
# Resident cards leave that position as reserved padding.
CARD_TYPES: dict[str, str] = {
    " ": RESIDENT_ID,
    "\x00": RESIDENT_ID,
    "J": HMT_RESIDENCE_PERMIT,
    "I": FOREIGN_PERMANENT_RESIDENCE,
}
CARD_TYPE_OFFSET = 248

# GB/T 2261.1 sex codes -> the server's field values.
SEX_CODES: dict[str, str] = {"1": "M", "2": "F"}

# GB/T 3304 ethnicity codes as the card stores them -> the names the server
# expects (the full name with 族, as in rules.ETHNICITIES).
ETHNICITY_CODES: dict[str, str] = {
    "01": "汉族", "02": "蒙古族", "03": "回族", "04": "藏族", "05": "维吾尔族",
    "06": "苗族", "07": "彝族", "08": "壮族", "09": "布依族", "10": "朝鲜族",
    "11": "满族", "12": "侗族", "13": "瑶族", "14": "白族", "15": "土家族",
    "16": "哈尼族", "17": "哈萨克族", "18": "傣族", "19": "黎族", "20": "傈僳族",
    "21": "佤族", "22": "畲族", "23": "高山族", "24": "拉祜族", "25": "水族",
    "26": "东乡族", "27": "纳西族", "28": "景颇族", "29": "柯尔克孜族", "30": "土族",
    "31": "达斡尔族", "32": "仫佬族", "33": "羌族", "34": "布朗族", "35": "撒拉族",
    "36": "毛南族", "37": "仡佬族", "38": "锡伯族", "39": "阿昌族", "40": "普米族",
    "41": "塔吉克族", "42": "怒族", "43": "乌孜别克族", "44": "俄罗斯族", "45": "鄂温克族",
    "46": "德昂族", "47": "保安族", "48": "裕固族", "49": "京族", "50": "塔塔尔族",
    "51": "独龙族", "52": "鄂伦春族", "53": "赫哲族", "54": "门巴族", "55": "珞巴族",
    "56": "基诺族",
    "97": "其他",
    "98": "外国血统中国籍人士",
}

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_YYYYMMDD = re.compile(r"[0-9]{8}", re.ASCII)


class MalformedBlock(ValueError):
    """The bytes are not a text block we can trust."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Field tables: key -> (offset, length in bytes). Only fields the output uses.
_RESIDENT = {
    "name": (0, 30), "sex": (30, 2), "ethnicity": (32, 4), "birth_date": (36, 16),
    "address": (52, 70), "id_number": (122, 36), "authority": (158, 30),
    "valid_from": (188, 16), "valid_to": (204, 16),
}
_HMT = {
    "name": (0, 30), "sex": (30, 2), "birth_date": (36, 16), "address": (52, 70),
    "id_number": (122, 36), "authority": (158, 30), "valid_from": (188, 16),
    "valid_to": (204, 16), "pass_number": (220, 18), "issue_count": (238, 4),
}
_FOREIGN = {
    "name_en": (0, 120), "sex": (120, 2), "id_number": (122, 30),
    "nationality": (152, 6), "name": (158, 30), "valid_from": (188, 16),
    "valid_to": (204, 16), "birth_date": (220, 16),
    # The accepting-authority code (e.g. 1500 = 公安部) stands in for the
    # issuing authority: it is all the chip says about who issued the card.
    "authority": (240, 8),
}
_LAYOUTS = {
    RESIDENT_ID: _RESIDENT,
    HMT_RESIDENCE_PERMIT: _HMT,
    FOREIGN_PERMANENT_RESIDENCE: _FOREIGN,
}
# Fields without which a read identifies nobody; blank ones make the block malformed.
_REQUIRED = {
    RESIDENT_ID: ("name", "sex", "birth_date", "id_number", "valid_from", "valid_to"),
    HMT_RESIDENCE_PERMIT: ("name", "sex", "birth_date", "id_number", "valid_from", "valid_to"),
    # Many permanent residents have no Chinese name, so only the English one is required.
    FOREIGN_PERMANENT_RESIDENCE: ("name_en", "sex", "birth_date", "id_number", "valid_from", "valid_to"),
}


def decode_text_block(data: bytes) -> dict[str, str | int | None]:
    """Decode a text block into the agent's field dict (see KEYS); raise MalformedBlock."""
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedBlock("text block must be bytes")
    if len(data) != BLOCK_SIZE:
        raise MalformedBlock(f"text block must be {BLOCK_SIZE} bytes, got {len(data)}")
    data = bytes(data)

    marker = _text(data, "card type", CARD_TYPE_OFFSET, 2, strip=False)
    card_type = CARD_TYPES.get(marker)
    if card_type is None:
        raise MalformedBlock(f"unknown card type {marker!r} at byte {CARD_TYPE_OFFSET}")

    raw = {key: _text(data, key, offset, length) for key, (offset, length) in _LAYOUTS[card_type].items()}
    for key in _REQUIRED[card_type]:
        if not raw.get(key):
            raise MalformedBlock(f"{key} is blank")

    fields: dict[str, str | int | None] = dict.fromkeys(KEYS)
    fields.update(raw)
    fields["card_type"] = card_type
    fields["sex"] = _sex(raw["sex"])
    if card_type == RESIDENT_ID:
        fields["ethnicity"] = _ethnicity(raw["ethnicity"])
    fields["birth_date"] = _iso_date("birth_date", raw["birth_date"])
    fields["valid_from"] = _iso_date("valid_from", raw["valid_from"])
    fields["valid_to"] = raw["valid_to"] if raw["valid_to"] == LONG_TERM else _iso_date("valid_to", raw["valid_to"])
    if card_type == HMT_RESIDENCE_PERMIT:
        fields["issue_count"] = _count("issue_count", raw["issue_count"])
    return fields


def _text(data: bytes, key: str, offset: int, length: int, *, strip: bool = True) -> str | None:
    try:
        value = data[offset:offset + length].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise MalformedBlock(f"{key} is not valid UCS-2: {exc.reason}") from None
    if not strip:
        return value
    # Spaces are the specified padding; some SAM firmware pads with NULs instead.
    value = value.rstrip(" \x00")
    if "\x00" in value:
        raise MalformedBlock(f"{key} contains NUL characters")
    return value or None


def _sex(code: str) -> str:
    try:
        return SEX_CODES[code]
    except KeyError:
        raise MalformedBlock(f"unknown sex code {code!r}") from None


def _ethnicity(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return ETHNICITY_CODES[code]
    except KeyError:
        raise MalformedBlock(f"unknown ethnicity code {code!r}") from None


def _iso_date(key: str, value: str) -> str:
    if not _YYYYMMDD.fullmatch(value):
        raise MalformedBlock(f"{key} is not a YYYYMMDD date: {value!r}")
    try:
        return date.fromisoformat(f"{value[:4]}-{value[4:6]}-{value[6:]}").isoformat()
    except ValueError:
        raise MalformedBlock(f"{key} is an impossible date: {value}") from None


def _count(key: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not _DIGITS.fullmatch(value):
        raise MalformedBlock(f"{key} is not a number: {value!r}")
    return int(value)
