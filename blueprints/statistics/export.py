"""Excel workbooks of the dashboard's figures: a sheet per figure, numbers stored as numbers."""
import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from blueprints.statistics.figures import Figure, Table

MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS = {"int": "#,##0", "percent": "0.0%"}
# Excel refuses these in a sheet name, and names longer than 31 characters.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_name(title: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("", title)[:31] or "Sheet"
    name, n = base, 2
    while name in taken:
        suffix = f"({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def workbook(sheets: list[tuple[Figure, Table]], heading: list[tuple[str, str]]) -> bytes:
    """One sheet per figure: its title, the selection (`heading` pairs), then its table with the totals."""
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for figure, table in sheets:
        sheet = book.create_sheet(sheet_name(figure.title, taken))
        sheet.append([figure.title])
        sheet["A1"].font = Font(bold=True, size=14)
        for label, value in heading:
            if label == "统计期" and not figure.period:
                value = "当前（不受统计期影响）"
            sheet.append([label, value])
        if figure.note:
            sheet.append(["说明", figure.note])
        sheet.append([])
        header_row = sheet.max_row + 1
        sheet.append(table.headers)
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center")
        lines = table.rows + ([table.totals] if table.totals else [])
        for line in lines:
            sheet.append(line)
            for index, cell in enumerate(sheet[sheet.max_row]):
                number_format = NUMBER_FORMATS.get(table.kinds[index])
                if number_format and isinstance(cell.value, (int, float)):
                    cell.number_format = number_format
        if table.totals:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
        for index, title in enumerate(table.headers, start=1):
            width = max([_width(title)] + [_width(line[index - 1]) for line in lines])
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 40)
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _width(value) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
