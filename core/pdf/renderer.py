"""Render HTML to PDF/A-3b with WeasyPrint, files attached (dossiers, change slips); no Flask, no database.

WeasyPrint is imported on first use: importing it loads Pango, HarfBuzz and
fontconfig, which the rest of the app does not need.
"""
from __future__ import annotations

import atexit
import base64
import datetime as dt
import decimal
import gc
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import jinja2

from core.pdf import fonts

LOGGER = logging.getLogger(__name__)

PDF_VARIANT = "pdf/a-3b"
GENERATOR = "客户账户与档案管理系统"

# Only local files and inline data: a dossier never makes the server fetch from the network.
ALLOWED_PROTOCOLS = frozenset({"file", "data"})

class DossierUnavailable(Exception):
    """This machine cannot generate dossier PDFs (档案生成不可用); the message says why."""


class DossierResourceMissing(Exception):
    """A scan or image that the dossier refers to could not be read."""


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the dossier as a PDF/A-3 associated file (附件)."""

    name: str
    data: bytes
    mime_type: str
    description: str = ""
    # PDF/A-3 AFRelationship: "Data" is the data the document is a rendering of.
    relationship: str = "Data"


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of data as lowercase hex (数据指纹)."""
    return hashlib.sha256(data).hexdigest()


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in a dossier record")


def record_json(record: dict) -> bytes:
    """Serialise a customer record canonically: the same record always gives the same bytes."""
    return json.dumps(
        record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default
    ).encode()


def record_attachment(
    record: dict, *, name: str = "record.json", description: str = "客户记录（机器可读）"
) -> Attachment:
    """Return the machine-readable copy of the record that a document embeds (the dossier's by default)."""
    return Attachment(
        name=name,
        data=record_json(record),
        mime_type="application/json",
        description=description,
    )


TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def template_environment() -> jinja2.Environment:
    """Return a Jinja environment that renders the project's templates as Flask's would, without an app."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
    )


HARFBUZZ_SUBSET_MISSING = (
    "无法生成客户档案 PDF：本机缺少 HarfBuzz 字体子集库（Debian 软件包 libharfbuzz-subset0，"
    "要求 HarfBuzz ≥ 4.1.0）。缺少它时 WeasyPrint 会不加提示地改用 fontTools 裁剪中文字体，"
    "生成一份中文档案要慢 4～6 倍。请由管理员安装："
    "apt-get install libharfbuzz-subset0，然后重启应用。"
)


def check_harfbuzz_subset() -> None:
    """Refuse dossier generation when WeasyPrint would subset fonts with fontTools.

    The condition is WeasyPrint's own (weasyprint/pdf/fonts.py, Font.subset):
    the HarfBuzz subset library was loaded and HarfBuzz is at least 4.1.0.
    """
    from weasyprint.pdf import fonts as pdf_fonts

    if not (pdf_fonts.harfbuzz_subset and pdf_fonts.harfbuzz.hb_version_atleast(4, 1, 0)):
        raise DossierUnavailable(HARFBUZZ_SUBSET_MISSING)


def check_fonts() -> None:
    """Refuse dossier generation when a font of the dossier's stack is not installed."""
    missing = fonts.missing_font_packages()
    if missing:
        packages = " ".join(missing)
        raise DossierUnavailable(
            f"无法生成客户档案 PDF：本机缺少档案所用字体（Debian 软件包 {packages}），"
            f"中文或生僻字会显示为方框。请由管理员安装：apt-get install {packages}，然后重启应用。"
        )


class _Renderer:
    """WeasyPrint state kept across renders in one process, used by one render at a time.

    The FontConfiguration holds the Pango font map: the fonts opened, their
    coverage, the fallback lists fontconfig computed, WeasyPrint's strut and
    feature caches. The prepared face (fonts.PREPARED_FAMILY) is loaded into it
    once. Pango objects are not thread-safe, hence the lock; a forked worker
    builds its own.

    Images are not kept between renders: WeasyPrint caches them by URL, so a
    scan replaced at the same path would print stale, and a dossier's scans
    belong to one customer anyway (within one render the cache still works).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self._pid = None
        self._fonts_checked = False
        self.font_config = None
        self.stylesheets = []

    def prepare(self):
        """Return the warm font configuration and its stylesheets, checking the machine once per process."""
        if self._pid != os.getpid():
            from weasyprint.text.fonts import FontConfiguration

            font_config = FontConfiguration()
            self.stylesheets = _prepared_font_stylesheets(font_config)
            self.font_config, self._fonts_checked, self._pid = font_config, False, os.getpid()
        if not self._fonts_checked:
            check_fonts()
            self._fonts_checked = True
        return self.font_config, self.stylesheets

    def release(self):
        """Drop the font configuration, so that WeasyPrint removes the folder it copied the prepared face to."""
        self.font_config, self.stylesheets, self._pid = None, [], None


def _prepared_font_stylesheets(font_config) -> list:
    """Return the @font-face stylesheet of the prepared face, or none (with a warning) if it is unusable."""
    import weasyprint

    try:
        prepared = fonts.prepared_font()
    except Exception:  # an unreadable font file or manifest: print with the installed fonts
        LOGGER.exception("the prepared dossier font cannot be checked")
        prepared = None
    if prepared is None:
        LOGGER.warning(
            "the prepared dossier font is missing or out of date: dossiers print with the installed "
            "fonts, slower and larger; run: python -m core.pdf.fonts build")
        return []
    return [weasyprint.CSS(
        string=f'@font-face {{ font-family: "{fonts.PREPARED_FAMILY}"; src: url("{prepared.as_uri()}") }}',
        font_config=font_config)]


_renderer = _Renderer()
# While the interpreter is whole: at shutdown WeasyPrint's modules may be torn down before this one,
# and the font configuration's cleanup then fails and leaves its temporary folder behind.
atexit.register(_renderer.release)


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    # WeasyPrint writes attachment dates with a literal "Z": hand it UTC.
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def render_pdf(
    html: str,
    *,
    base_url: str,
    attachments: list[Attachment],
    title: str,
    author: str,
    created: dt.datetime,
    url_fetcher=None,
) -> bytes:
    """Render dossier HTML to PDF/A-3b bytes with the attachments embedded.

    url_fetcher: a weasyprint.urls.URLFetcher (the file store's, core.files.url_fetcher()) that
    reads the document's images; by default only local files and data: URLs are read.

    Raises DossierUnavailable when this machine cannot produce a correct
    dossier quickly, and DossierResourceMissing when a scan cannot be read.
    """
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    check_harfbuzz_subset()

    import weasyprint
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    created_w3c = created.isoformat(timespec="seconds")
    pdf_attachments = [
        weasyprint.Attachment(
            # A data: URL carries the MIME type that PDF/A-3 requires for each file.
            url=f"data:{attachment.mime_type};base64,{base64.b64encode(attachment.data).decode()}",
            name=attachment.name,
            description=attachment.description,
            created=_utc_naive(created),
            modified=_utc_naive(created),
            relationship=attachment.relationship,
        )
        for attachment in attachments
    ]
    fetcher = url_fetcher or URLFetcher(allowed_protocols=ALLOWED_PROTOCOLS, fail_on_errors=True)

    with _renderer.lock:
        font_config, stylesheets = _renderer.prepare()
        # A render builds a large graph of boxes, styles and Pango wrappers that
        # stays reachable until the PDF is written; with the collector on, Python
        # walks that growing graph again and again for nothing. Paused, a dossier
        # renders 10-20 % faster; its cycles are collected once it is dropped.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            pdf, missing = _write_pdf(
                html, base_url, fetcher, font_config, stylesheets, pdf_attachments, title, author, created_w3c
            )
        except FatalURLFetchingError as error:
            # A BaseException in WeasyPrint: make it an ordinary error for the caller.
            raise DossierResourceMissing(str(error)) from error.__cause__
        finally:
            if gc_was_enabled:
                gc.enable()
    if missing:
        LOGGER.warning(
            "dossier printed without a glyph for %s: install a font that has them",
            " ".join(f"{char} U+{ord(char):04X}" for char in missing),
        )
    return pdf


def _write_pdf(html, base_url, fetcher, font_config, stylesheets, attachments, title, author, created_w3c):
    """Render and write; return the PDF and the characters that had no glyph in any font."""
    import weasyprint

    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        font_config=font_config, stylesheets=stylesheets
    )
    metadata = document.metadata
    metadata.title = title
    metadata.authors = [author]
    metadata.created = metadata.modified = created_w3c
    metadata.generator = GENERATOR
    pdf = document.write_pdf(
        pdf_variant=PDF_VARIANT, attachments=attachments, finisher=_list_associated_files_once
    )
    missing = sorted({chr(code) for font in document.fonts.values() for code in font.missing})
    return pdf, missing


def _list_associated_files_once(document, pdf) -> None:
    # WeasyPrint 70 adds each attachment to the catalog's /AF twice (once from
    # the EmbeddedFiles name tree, once from the file specification itself).
    import pydyf

    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
