"""A small streaming .xlsx writer for sortable tables (one sheet each: header row, autofilter, frozen header).

openpyxl needs 2.5-4.5 s for the 10,000-row FSMA export on this host (write-only mode, with or
without lxml); the export target is 2 s, so the sheet XML is written directly here: inline
strings, empty cells skipped, one deflate pass. Files open in Excel, LibreOffice and openpyxl
(the tests read every export back with openpyxl).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}"
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'styles" Target="styles.xml"/>{sheets}</Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def col_letter(n: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text(value: str) -> str:
    return escape(_INVALID_XML.sub("", value))


def write_table(header: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "Sheet1") -> bytes:
    """One worksheet: bold frozen header with an autofilter over the whole table (see `write_tables`)."""
    return write_tables([(sheet, header, rows)])


def _sheet_xml(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[str, str]:
    """A worksheet's XML and its table's last cell (for the autofilter's defined name)."""
    letters = [col_letter(i + 1) for i in range(len(header))]
    texts: dict[str, str] = {}  # escaped text by value: export rows repeat places and names a lot
    parts: list[str] = []
    add = parts.append
    add('<row r="1">')
    for letter, name in zip(letters, header, strict=True):
        add(f'<c r="{letter}1" s="1" t="inlineStr"><is><t>{_text(str(name))}</t></is></c>')
    add("</row>")
    n = 1
    for row in rows:
        n += 1
        add(f'<row r="{n}">')
        for letter, value in zip(letters, row, strict=True):
            if value is None or value == "":
                continue
            kind = type(value)  # exact types first: export cells are nearly all str (10k-row exports)
            if kind is str:
                text = texts.get(value)
                if text is None:
                    text = texts[value] = _text(value)
                add(f'<c r="{letter}{n}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
            elif (kind is int or kind is float) and (kind is int or math.isfinite(value)):
                add(f'<c r="{letter}{n}"><v>{value!r}</v></c>')
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if isinstance(value, float) and not math.isfinite(value):
                    add(f'<c r="{letter}{n}" t="inlineStr"><is><t>{value}</t></is></c>')
                else:
                    add(f'<c r="{letter}{n}"><v>{value!r}</v></c>')
            else:
                add(
                    f'<c r="{letter}{n}" t="inlineStr"><is><t xml:space="preserve">{_text(str(value))}</t></is></c>'
                )
        add("</row>")
    last = f"{letters[-1]}{n}"
    widths = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{min(60, max(10, len(h) + 2))}" customWidth="1"/>'
        for i, h in enumerate(header)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols><sheetData>'
        + "".join(parts)
        + f'</sheetData><autoFilter ref="A1:{last}"/></worksheet>'
    )
    return xml, f"${letters[-1]}${n}"


def write_tables(tables: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook of one sortable worksheet per (sheet name, header, rows): bold frozen header with an
    autofilter over the whole table. Cells are numbers (int/float, not bool) or text; None and "" are
    left empty. Text goes in inline-string cells, which spreadsheet programs never evaluate as formulas."""
    if not tables:
        raise ValueError("a workbook needs at least one sheet")
    names = [_text(name[:31]) for name, _, _ in tables]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names must differ: {names}")
    sheets = [_sheet_xml(header, rows) for _, header, rows in tables]
    entries = "".join(
        f'<sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, name in enumerate(names)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"'{name}'!$A$1:{last}</definedName>"
        for i, (name, (_, last)) in enumerate(zip(names, sheets, strict=True))
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets>{entries}</sheets><definedNames>{filters}</definedNames></workbook>"
    )
    content_types = _CONTENT_TYPES.format(
        sheets="".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(sheets))
        )
    )
    rels = _WORKBOOK_RELS.format(
        sheets="".join(
            f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(sheets))
        )
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/styles.xml", _STYLES)
        for i, (xml, _) in enumerate(sheets):
            z.writestr(f"xl/worksheets/sheet{i + 1}.xml", xml)
    return out.getvalue()
