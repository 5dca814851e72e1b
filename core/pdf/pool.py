"""Render PDFs in a pool of worker processes, one per core by default; no Flask, no database, no keys.

A render is a pure function of its inputs: the HTML, the files it shows (read from the store by
the caller, so a render process never holds the data key or a database connection), the
attachments and the metadata. The processes start from a fresh interpreter (forkserver), never
as forks of a process that holds connections and threads, and warm WeasyPrint once each.

Without a pool (the web process, the tests, JOB_RENDER_PROCESSES=0) `render` runs in the caller's
process, with the same inputs and the same result.
"""
from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import re
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from core.pdf import renderer

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderRequest:
    html: str
    base_url: str
    attachments: list
    title: str
    author: str
    created: dt.datetime
    # URL -> (bytes, MIME type) of every file the HTML refers to; nothing else can be fetched.
    resources: dict = field(default_factory=dict)


def resource_urls(html: str, scheme: str) -> list[str]:
    """The `scheme:` URLs (content-addressed: scheme:<sha256>) that the HTML refers to, once each."""
    return list(dict.fromkeys(re.findall(rf"{re.escape(scheme)}:[0-9a-f]{{64}}", html)))


def _fetcher(resources: dict):
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class PreloadedFetcher(URLFetcher):
        """Serves the files read for this render, and data: URLs; any other URL stops the render."""

        def __init__(self):
            super().__init__(allowed_protocols={"data"}, fail_on_errors=True)

        def fetch(self, url, headers=None):
            if url in resources:
                data, mime = resources[url]
                return URLFetcherResponse(url, data, {"Content-Type": mime})
            return super().fetch(url, headers)

    return PreloadedFetcher()


def render_here(job: RenderRequest) -> bytes:
    """Render in this process."""
    return renderer.render_pdf(job.html, base_url=job.base_url, url_fetcher=_fetcher(job.resources),
                               attachments=job.attachments, title=job.title, author=job.author,
                               created=job.created)


# A render process grows by about 30 MB around its twenty-first dossier and stays there (WeasyPrint's and
# Pango's caches, the allocator's arenas): replaced after this many renders, it stays under 200 MB. The
# renders are not spread evenly over a pool's processes, hence the margin.
DEFAULT_RENDERS_PER_PROCESS = 15


class RenderPool:
    """A process pool for renders; submit() from any thread.

    After `renders_per_process` renders per process on average the pool's processes are replaced by fresh
    ones (None: never): the submit that finds it due waits until the renders already handed to the old
    ones are done and they have exited, so never more than `processes` render at once.
    (ProcessPoolExecutor's own max_tasks_per_child can deadlock with a backlog on Python 3.11:
    CPython gh-115634.)"""

    def __init__(self, processes: int, warm_up=None, renders_per_process: int | None = None):
        self.processes, self._warm_up = processes, warm_up
        self._renders_per_generation = renders_per_process * processes if renders_per_process else None
        self._lock = threading.Lock()
        self._submitted = 0
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=self._warm_up)

    def submit(self, job: RenderRequest) -> Future:
        with self._lock:
            if self._renders_per_generation and self._submitted >= self._renders_per_generation:
                self._executor.shutdown(wait=True)  # what it was handed renders first; then its processes exit
                self._executor, self._submitted = self._new_executor(), 0
            self._submitted += 1
            return self._executor.submit(render_here, job)

    def shutdown(self) -> None:
        with self._lock:
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)


_pool: RenderPool | None = None
_pool_lock = threading.Lock()


def start(processes: int | None = None, warm_up=None,
          renders_per_process: int | None = DEFAULT_RENDERS_PER_PROCESS) -> RenderPool | None:
    """Start this process's render pool (0 processes: render in the caller instead).

    warm_up: a module-level function each process runs once as it starts (it must pickle).
    renders_per_process: how many renders a process does before it is replaced (None: never)."""
    global _pool
    processes = (os.cpu_count() or 1) if processes is None else processes
    with _pool_lock:
        if _pool is None and processes > 0:
            _pool = RenderPool(processes, warm_up, renders_per_process)
    return _pool


def stop() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


def size() -> int:
    """How many renders can run at once: the pool's processes, or 1 in the caller."""
    return _pool.processes if _pool is not None else 1


def processes() -> int:
    """The pool's processes; 0 when renders run in the caller."""
    return _pool.processes if _pool is not None else 0


def submit(job: RenderRequest) -> Future:
    """Render in the pool when there is one; otherwise now, in this thread (a future already done)."""
    if _pool is not None:
        return _pool.submit(job)
    future: Future = Future()
    try:
        future.set_result(render_here(job))
    except BaseException as error:  # handed to the caller through the future, as the pool does
        future.set_exception(error)
    return future


def render(job: RenderRequest) -> bytes:
    return submit(job).result()
