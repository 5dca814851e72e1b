"""Reading import files (CSV or .xlsx, streamed) and checking their rows; no Flask, no database.

Every row is checked on its own and a refusal names the row (the header is row 1) and the
reason in Chinese. What needs the database (does the customer exist, is it in the branch)
is checked by grading.imports with the values parsed here.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterator

from blueprints.grading.valuation import HOLDING_KIND_LABELS, HoldingKind


class RowError(Exception):
    """A row the import refuses; the message is shown to the user."""


class FileError(Exception):
    """The whole file cannot be read (format, encoding, header)."""


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = True


COLUMNS = {
    "holdings": (Column("customer_no", "客户号"), Column("fund_account_no", "资金账号", False),
                 Column("security_code", "证券代码"), Column("quantity", "持仓数量"), Column("cost", "成本价", False),
                 Column("kind", "持仓类型", False), Column("listed_code", "上市流通代码", False),
                 Column("lockup_start", "锁定期开始日", False), Column("lockup_end", "锁定期结束日", False)),
    "prices": (Column("security_code", "证券代码"), Column("day", "日期"), Column("close", "收盘价"),
               Column("suspended", "停牌", False), Column("industry_code", "行业代码", False)),
    "index": (Column("industry_code", "行业代码"), Column("day", "日期"), Column("close", "收盘点位")),
    "commissions": (Column("customer_no", "客户号"), Column("fund_account_no", "资金账号", False),
                    Column("day", "日期"), Column("amount", "佣金")),
}

KIND_WORDS = {"": HoldingKind.LISTED, "listed": HoldingKind.LISTED, "bonus": HoldingKind.UNLISTED_BONUS,
              "placement": HoldingKind.LOCKED_PLACEMENT, "流通": HoldingKind.LISTED,
              "送股": HoldingKind.UNLISTED_BONUS, "配股": HoldingKind.UNLISTED_BONUS, "转增股": HoldingKind.UNLISTED_BONUS,
              "非公开发行": HoldingKind.LOCKED_PLACEMENT, "定增": HoldingKind.LOCKED_PLACEMENT}
KIND_WORDS.update({label: kind for kind, label in HOLDING_KIND_LABELS.items()})
FLAG_WORDS = {"": False, "否": False, "0": False, "n": False, "no": False, "false": False,
              "是": True, "1": True, "y": True, "yes": True, "true": True, "停牌": True}

SECURITY_CODE = re.compile(r"^[0-9]{6}(\.(SH|SZ|BJ))?$")
INDUSTRY_CODE = re.compile(r"^[0-9A-Za-z]{1,16}$")
CUSTOMER_NO = re.compile(r"^[0-9A-Z]{1,16}$")
ACCOUNT_NO = re.compile(r"^[0-9]{1,16}$")
MAX_QUANTITY = Decimal("1e15")
MAX_PRICE = Decimal("1e9")


# --- reading -------------------------------------------------------------------------------------

class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read, for the progress bar."""

    def __init__(self, handle):
        self.handle, self.count = handle, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.handle.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)


def _encoding_of(head: bytes) -> str:
    """UTF-8 (with or without BOM) or, as Excel in China saves CSV, GB18030."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class Table:
    """The rows of a CSV or the first worksheet of an .xlsx, one at a time, with progress."""

    def __init__(self, open_file, file_format: str, size: int = 0):
        """`open_file()` gives the file as a binary stream (seekable for an .xlsx); `size` is its length in bytes."""
        self.open_file, self.format, self.size = open_file, file_format, size
        self.total, self.done = 0, 0

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        if self.format == "xlsx":
            yield from self._xlsx_rows()
        else:
            yield from self._csv_rows()

    def _csv_rows(self):
        self.total = self.size
        with self.open_file() as raw:
            counting = _Counting(raw)
            buffered = io.BufferedReader(counting, 1 << 16)
            encoding = _encoding_of(buffered.peek(65536)[:65536])
            text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
            try:
                for number, row in enumerate(csv.reader(text), start=1):
                    self.done = counting.count
                    yield number, [cell.strip() for cell in row]
            except UnicodeDecodeError as error:
                raise FileError("文件编码无法识别，请另存为 UTF-8 或 GB18030 编码的 CSV") from error
            except csv.Error as error:
                raise FileError(f"CSV 格式错误：{error}") from error

    def _xlsx_rows(self):
        import zipfile

        from openpyxl import load_workbook

        handle = self.open_file()  # a handle: openpyxl would refuse a stored file's name without .xlsx
        try:
            book = load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            handle.close()
            raise FileError("不是有效的 Excel（.xlsx）文件") from error
        try:
            sheet = book.worksheets[0]
            self.total = sheet.max_row or 0
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                self.done = number
                yield number, [_cell(value) for value in row]
        finally:
            book.close()
            handle.close()


def header_map(kind: str, header: list[str]) -> dict[str, int]:
    """Where each column is; FileError naming the required columns that are missing."""
    positions = {}
    names = [cell.strip().lstrip("\ufeff") for cell in header]
    for column in COLUMNS[kind]:
        for index, name in enumerate(names):
            if name in (column.header, column.key):
                positions[column.key] = index
                break
    missing = [column.header for column in COLUMNS[kind] if column.required and column.key not in positions]
    if missing:
        expected = "、".join(column.header for column in COLUMNS[kind])
        raise FileError(f"第 1 行（表头）缺少列：{'、'.join(missing)}。应有的列：{expected}")
    return positions


# --- values --------------------------------------------------------------------------------------

def _decimal(text: str, label: str, *, places: int, positive: bool = False, maximum: Decimal = MAX_PRICE,
             whole: bool = False) -> Decimal:
    text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{label}“{text}”不是数字") from None
    if not value.is_finite():
        raise RowError(f"{label}“{text}”不是数字")
    if whole and value != value.to_integral_value():
        raise RowError(f"{label}须为整数")
    if value < 0 or (positive and value == 0):
        raise RowError(f"{label}须大于 0" if positive else f"{label}不能为负数")
    if value >= maximum:
        raise RowError(f"{label}超出范围")
    if -value.as_tuple().exponent > places:
        raise RowError(f"{label}最多 {places} 位小数")
    return value


def _date(text: str, label: str) -> date:
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(text[:10] if "-" in text or "/" in text else text, pattern).date()
        except ValueError:
            continue
    raise RowError(f"{label}“{text}”不是有效日期（应为 年-月-日，如 2026-11-30）")


def _required(values: dict, key: str, label: str) -> str:
    text = values.get(key, "")
    if not text:
        raise RowError(f"{label}不能为空")
    return text


def _code(text: str, label: str) -> str:
    code = text.upper()
    if not SECURITY_CODE.match(code):
        raise RowError(f"{label}“{text}”格式不正确（6 位数字，可带 .SH/.SZ/.BJ）")
    return code


def _customer(values: dict) -> tuple[str, str | None]:
    customer_no = _required(values, "customer_no", "客户号").upper()
    if not CUSTOMER_NO.match(customer_no):
        raise RowError(f"客户号“{customer_no}”格式不正确")
    account = values.get("fund_account_no") or None
    if account is not None and not ACCOUNT_NO.match(account):
        raise RowError(f"资金账号“{account}”格式不正确")
    return customer_no, account


def parse_holding(values: dict) -> dict:
    customer_no, account = _customer(values)
    code = _code(_required(values, "security_code", "证券代码"), "证券代码")
    quantity = _decimal(_required(values, "quantity", "持仓数量"), "持仓数量", places=0, positive=True,
                        maximum=MAX_QUANTITY, whole=True)
    cost = _decimal(values["cost"], "成本价", places=4) if values.get("cost") else None
    word = values.get("kind", "").strip()
    kind = KIND_WORDS.get(word.lower(), KIND_WORDS.get(word))
    if kind is None:
        raise RowError(f"持仓类型“{word}”无法识别（应为 上市流通 / 送配股未上市 / 非公开发行锁定期内）")
    listed_code, start, end = None, None, None
    if kind == HoldingKind.UNLISTED_BONUS:
        listed_code = _code(_required(values, "listed_code", "上市流通代码"), "上市流通代码")
    if kind == HoldingKind.LOCKED_PLACEMENT:
        if cost is None:
            raise RowError("非公开发行股票须填写成本价（初始取得成本）")
        start = _date(_required(values, "lockup_start", "锁定期开始日"), "锁定期开始日")
        end = _date(_required(values, "lockup_end", "锁定期结束日"), "锁定期结束日")
        if end < start:
            raise RowError("锁定期结束日不能早于开始日")
        listed_code = _code(values["listed_code"], "上市流通代码") if values.get("listed_code") else None
    return {"customer_no": customer_no, "fund_account_no": account, "code": code, "amount": quantity,
            "amount2": cost, "kind": kind, "other_code": listed_code, "day_from": start, "day_to": end,
            "dedup_key": f"{customer_no}|{account or ''}|{code}|{kind}"}


def parse_price(values: dict) -> dict:
    code = _code(_required(values, "security_code", "证券代码"), "证券代码")
    day = _date(_required(values, "day", "日期"), "日期")
    close = _decimal(_required(values, "close", "收盘价"), "收盘价", places=4, positive=True)
    flag = values.get("suspended", "").strip().lower()
    if flag not in FLAG_WORDS:
        raise RowError(f"停牌标志“{flag}”无法识别（应为 是 / 否）")
    industry = values.get("industry_code") or None
    if industry is not None and not INDUSTRY_CODE.match(industry):
        raise RowError(f"行业代码“{industry}”格式不正确")
    return {"code": code, "day": day, "amount": close, "flag": FLAG_WORDS[flag], "other_code": industry,
            "dedup_key": f"{code}|{day.isoformat()}"}


def parse_index(values: dict) -> dict:
    industry = _required(values, "industry_code", "行业代码")
    if not INDUSTRY_CODE.match(industry):
        raise RowError(f"行业代码“{industry}”格式不正确")
    day = _date(_required(values, "day", "日期"), "日期")
    close = _decimal(_required(values, "close", "收盘点位"), "收盘点位", places=4, positive=True)
    return {"code": industry, "day": day, "amount": close, "dedup_key": f"{industry}|{day.isoformat()}"}


def parse_commission(values: dict) -> dict:
    customer_no, account = _customer(values)
    day = _date(_required(values, "day", "日期"), "日期")
    amount = _decimal(_required(values, "amount", "佣金"), "佣金", places=2, maximum=Decimal("1e12"))
    return {"customer_no": customer_no, "fund_account_no": account, "day": day, "amount": amount,
            "dedup_key": f"{customer_no}|{day.isoformat()}"}


PARSERS: dict[str, Callable[[dict], dict]] = {"holdings": parse_holding, "prices": parse_price,
                                               "index": parse_index, "commissions": parse_commission}


def values_of(row: list[str], positions: dict[str, int]) -> dict:
    return {key: (row[index].strip() if index < len(row) else "") for key, index in positions.items()}


def is_blank(row: list[str]) -> bool:
    # Cells arrive stripped (Table strips them), so an empty string is an empty cell.
    return not any(row)
