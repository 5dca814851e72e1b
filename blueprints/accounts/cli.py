"""The outbox worker command: delivers account requests to China Clearing and the banks."""
import logging
import signal

import click
from flask.cli import with_appcontext

from core import outbox


@click.command("outbox-worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds to wait when nothing is due.")
@with_appcontext
def outbox_worker_command(once: bool, poll: float):
    """Deliver queued requests to external systems, retrying with backoff."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s outbox-worker %(levelname)s %(message)s")
    if once:
        summary = outbox.run_once()
        click.echo(f"delivered {summary.delivered}, retried {summary.retried}, rejected {summary.rejected}, "
                   f"deferred {summary.deferred}")
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo("outbox worker running; Ctrl-C to stop")
    try:
        outbox.run_forever(poll_seconds=poll, stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
