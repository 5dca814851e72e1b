"""Dossiers rendered in the render pool's processes: the same PDF text as in the caller, the scans handed over."""
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.archive import services
from blueprints.archive.dossier_pdf import warm_up_process
from blueprints.customers.models import Customer
from core import files
from core.extensions import db
from core.pdf import pool
from core.pdf.renderer import DossierResourceMissing
from tests.archive.test_dossier_generation import PNG_1PX


def _text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture(scope="module")
def render_pool():
    processes = pool.RenderPool(2, warm_up=warm_up_process)
    yield processes
    processes.shutdown()


def test_a_dossier_renders_the_same_in_a_pool_process_as_in_the_caller(app, active_customer, render_pool):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == active_customer))
        scan = files.store(PNG_1PX, allowed={"image/png"}, max_bytes=10**6)
        inputs = services.dossier_inputs(customer)
        request = services.render_request(inputs)
        db.session.rollback()
    request = pool.RenderRequest(**{**request.__dict__, "html": request.html.replace(
        "</body>", f'<img src="{files.url_of(scan.sha256)}"></body>'),
        "resources": {**request.resources, files.url_of(scan.sha256): (PNG_1PX, "image/png")}})
    in_pool = render_pool.submit(request).result(timeout=120)
    here = pool.render_here(request)
    assert in_pool.startswith(b"%PDF-") and _text(in_pool) == _text(here)
    assert active_customer in _text(in_pool)


def test_a_render_process_reads_nothing_but_what_it_was_handed(app, active_customer, render_pool):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == active_customer))
        request = services.render_request(services.dossier_inputs(customer))
        db.session.rollback()
    missing = files.url_of("ab" * 32)
    request = pool.RenderRequest(**{**request.__dict__, "html": request.html.replace(
        "</body>", f'<img src="{missing}"><img src="file:///etc/passwd"></body>')})
    with pytest.raises(DossierResourceMissing):
        render_pool.submit(request).result(timeout=120)


def test_the_urls_a_dossier_refers_to_are_found_once_each():
    digest = "0f" * 32
    html = f'<img src="kyc-file:{digest}"><img src="kyc-file:{digest}"><a href="kyc-file:short">'
    assert pool.resource_urls(html, "kyc-file") == [f"kyc-file:{digest}"]


def test_render_processes_are_replaced_after_their_renders_and_a_backlog_still_finishes():
    import datetime as dt
    import time

    request = pool.RenderRequest(html="<html><body><p>客户开户档案 第一页</p></body></html>", base_url="kyc-file:",
                                 attachments=[], title="t", author="a",
                                 created=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    renders = pool.RenderPool(1, renders_per_process=2)
    try:
        first = renders._executor
        futures = [renders.submit(request) for _ in range(2)]
        retired = dict(first._processes)
        futures += [renders.submit(request) for _ in range(3)]  # queued at once: three generations of the process
        assert all(_text(future.result(timeout=120)).strip() == "客户开户档案 第一页" for future in futures)
        assert renders._executor is not first
        deadline = time.monotonic() + 30
        while any(process.is_alive() for process in retired.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert retired and not any(process.is_alive() for process in retired.values())  # the old one exited
        assert renders.submit(request).result(timeout=120).startswith(b"%PDF-")
    finally:
        renders.shutdown()
