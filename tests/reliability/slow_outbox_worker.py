"""The outbox worker, slowed where a kill hurts most: after China Clearing has done the work, before the worker records it.

Run as `python -m tests.reliability.slow_outbox_worker` with the app's environment. Each answer from the
China Clearing simulator (its own transaction, committed) waits a moment before the worker goes on to
commit the delivery, so a kill -9 at a random moment most likely lands between the two.
"""
import time

from app import create_app
from core import outbox

WINDOW_SECONDS = 0.25


def main() -> None:
    app = create_app()
    clearing = app.extensions["china_clearing"]
    answer = clearing.open_accounts

    def answered_then_wait(*args, **kwargs):
        result = answer(*args, **kwargs)
        time.sleep(WINDOW_SECONDS)
        return result

    clearing.open_accounts = answered_then_wait
    with app.app_context():
        outbox.run_forever(poll_seconds=0.1)


if __name__ == "__main__":
    main()
