"""The customer list as an Excel workbook: written row by row (write-only), so a long list never sits in memory."""
import tempfile
from typing import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from blueprints.statistics.export import MIME  # noqa: F401 (the one xlsx media type)
from core.masking import mask_id_number, mask_mobile, mask_name
from core.reference import ID_TYPE_LABELS
from core.timeutil import to_beijing

COLUMNS = [("客户号", 14), ("姓名", 12), ("营业部", 18), ("客户类别", 10), ("客户级别", 10), ("风险等级", 10),
           ("客户经理", 12), ("建档日期", 12), ("证件类型", 16), ("证件号码", 22), ("证件有效期至", 14), ("手机号码", 15)]
# Above this a workbook being written goes from memory to a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024


def _line(row, *, full_id: bool, kind_labels: dict, grade_labels: dict) -> list:
    customer, profile = row.customer, row.customer.profile
    # As on the screens: names and mobiles masked for every role (the list masks them too), the ID number
    # in full only for the roles that check it against the document.
    name, mobile = mask_name(profile.name), mask_mobile(profile.mobile)
    id_number = profile.id_number if full_id else mask_id_number(profile.id_number)
    if not row.has_document:
        valid_to = ""
    else:
        valid_to = row.id_valid_to.isoformat() if row.id_valid_to else "长期"
    opened = customer.created_at
    return [customer.customer_no, name, row.branch, kind_labels.get(customer.kind, customer.kind),
            grade_labels.get(row.grade, row.grade or "未评级"), customer.risk_class or "未测评", row.manager or "",
            to_beijing(opened).date().isoformat() if opened else "",
            ID_TYPE_LABELS.get(profile.id_type, profile.id_type), id_number or "", valid_to, mobile or ""]


def customer_workbook(rows: Iterable, *, full_id: bool, kind_labels: dict, grade_labels: dict):
    """A workbook of the rows (names and mobiles masked, ID numbers too unless `full_id`), as a file to send."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户名单")
    for index, (_title, width) in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title, _width in COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(_line(row, full_id=full_id, kind_labels=kind_labels, grade_labels=grade_labels))
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    book.save(body)
    body.seek(0)
    return body
