"""Byte fixtures: 256-byte text blocks for the three card types, built field by field."""

from __future__ import annotations

from stdnum.iso7064 import mod_11_2

BLOCK_SIZE = 256
# Stand-in for the WLT-compressed photo: real ones are 1024 opaque bytes.
PHOTO = bytes((i * 37 + 11) % 256 for i in range(1024))


def ucs2(text: str, size: int, pad: str = " ") -> bytes:
    """A field: text in UCS-2LE, padded to `size` bytes with `pad`."""
    data = text.encode("utf-16-le")
    if len(data) > size:
        raise ValueError(f"{text!r} does not fit {size} bytes")
    return data + (pad * ((size - len(data)) // 2)).encode("utf-16-le")


def id_number(prefix6: str, birth: str, seq3: str) -> str:
    body = f"{prefix6}{birth}{seq3}"
    return body + mod_11_2.calc_check_digit(body)


RESIDENT = {
    "name": "王小明", "sex": "1", "ethnicity": "01", "birth": "19900307",
    "address": "北京市东城区景山前街4号", "id_number": id_number("110101", "19900307", "123"),
    "authority": "北京市公安局东城分局", "valid_from": "20200101", "valid_to": "20400101",
}

HMT = {
    "name": "陈大文", "sex": "2", "birth": "19851120",
    "address": "广东省深圳市福田区深南大道1号", "id_number": id_number("810000", "19851120", "246"),
    "authority": "深圳市公安局", "valid_from": "20220101", "valid_to": "20270101",
    "pass_number": "H12345678", "issue_count": "01",
}

FOREIGN = {
    "name_en": "SMITH, JOHN ANDREW", "sex": "1", "id_number": "USA110080030712",
    "nationality": "USA", "name": "史密斯", "valid_from": "20230501", "valid_to": "20330430",
    "birth": "19800307", "version": "01", "authority": "1500",
}


def resident_block(**overrides: str) -> bytes:
    """A resident ID card (居民身份证) text block."""
    f = {**RESIDENT, **overrides}
    block = (
        ucs2(f["name"], 30) + ucs2(f["sex"], 2) + ucs2(f["ethnicity"], 4) + ucs2(f["birth"], 16)
        + ucs2(f["address"], 70) + ucs2(f["id_number"], 36) + ucs2(f["authority"], 30)
        + ucs2(f["valid_from"], 16) + ucs2(f["valid_to"], 16) + ucs2("", 36)
    )
    assert len(block) == BLOCK_SIZE
    return block


def hmt_block(**overrides: str) -> bytes:
    """An HK/Macau/Taiwan residence permit (港澳台居民居住证, type "J") text block."""
    f = {**HMT, **overrides}
    block = (
        ucs2(f["name"], 30) + ucs2(f["sex"], 2) + ucs2("", 4) + ucs2(f["birth"], 16)
        + ucs2(f["address"], 70) + ucs2(f["id_number"], 36) + ucs2(f["authority"], 30)
        + ucs2(f["valid_from"], 16) + ucs2(f["valid_to"], 16) + ucs2(f["pass_number"], 18)
        + ucs2(f["issue_count"], 4) + ucs2("", 6) + ucs2(f.get("card_type", "J"), 2) + ucs2("", 6)
    )
    assert len(block) == BLOCK_SIZE
    return block


def foreign_block(**overrides: str) -> bytes:
    """A foreigner permanent residence card (外国人永久居留身份证, type "I") text block."""
    f = {**FOREIGN, **overrides}
    block = (
        ucs2(f["name_en"], 120) + ucs2(f["sex"], 2) + ucs2(f["id_number"], 30)
        + ucs2(f["nationality"], 6) + ucs2(f["name"], 30) + ucs2(f["valid_from"], 16)
        + ucs2(f["valid_to"], 16) + ucs2(f["birth"], 16) + ucs2(f["version"], 4)
        + ucs2(f["authority"], 8) + ucs2(f.get("card_type", "I"), 2) + ucs2("", 6)
    )
    assert len(block) == BLOCK_SIZE
    return block


def with_bytes(block: bytes, offset: int, data: bytes) -> bytes:
    """The block with `data` written over it at `offset`."""
    return block[:offset] + data + block[offset + len(data):]
