"""Reference data every part of the system names: the types of identity document and the depository banks."""
import enum


class IdType(enum.StrEnum):
    RESIDENT_ID = "resident_id"  # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"  # 外国人永久居留身份证
    PASSPORT = "passport"  # 护照


ID_TYPE_LABELS: dict[IdType, str] = {
    IdType.RESIDENT_ID: "居民身份证",
    IdType.HMT_RESIDENCE_PERMIT: "港澳台居民居住证",
    IdType.FOREIGN_PERMANENT_RESIDENCE: "外国人永久居留身份证",
    IdType.PASSPORT: "护照",
}

BANKS = {
    "ICBC": "中国工商银行",
    "ABC": "中国农业银行",
    "BOC": "中国银行",
    "CCB": "中国建设银行",
    "BOCOM": "交通银行",
    "CMB": "招商银行",
}
