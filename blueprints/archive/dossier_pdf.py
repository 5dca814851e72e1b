"""The dossier as a PDF: its template rendered from a plain dict, and the render that warms a worker up."""
import datetime as dt

from core.pdf.renderer import render_pdf

TEMPLATE = "archive/dossier.html"


def render_dossier_html(env, context: dict) -> str:
    """Render the dossier template from a plain dict context (see its header for the keys)."""
    return env.get_template(TEMPLATE).render(**context)


# Enough of a dossier to open every font and style the real one uses.
_WARM_UP_CONTEXT = {
    "firm": "证券股份有限公司",
    "branch": "营业部",
    "customer": {"name": "刘䶮", "customer_no": "C0", "id_type_label": "居民身份证", "id_number_masked": "1*X"},
    "archive_no": "DA-0",
    "generated_at": "2026-01-01 00:00:00",
    "fingerprint": "0" * 64,
    "sections": [
        {"key": "warm-up", "title": "预热", "rows": [("曾用名", "刘𠀀")], "paragraphs": ["风险揭示。"],
         "tables": [{"headers": ["序号", "问题"], "rows": [["1", "回答"]]}]},
    ],
}


def warm_up(env) -> None:
    """Render a one-page dossier so that the first real one finds WeasyPrint warm.

    Call it once per worker process after it starts (or forks): it imports
    WeasyPrint, checks this machine, and opens the fonts, so the first clerk
    to ask for a dossier does not wait for it.
    """
    html = render_dossier_html(env, _WARM_UP_CONTEXT)
    render_pdf(
        html,
        base_url="file:///",
        attachments=[],
        title="warm-up",
        author="warm-up",
        created=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )


def warm_up_process() -> None:
    """warm_up() for a render process as it starts (core.pdf.pool); a failure is left to the first render."""
    import logging

    from core.pdf import renderer

    try:
        warm_up(renderer.template_environment())
    except Exception:  # the first real render reports what is wrong, to the person who asked
        logging.getLogger(__name__).exception("render process could not warm up")
