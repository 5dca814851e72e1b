"""The daily housekeeping: kept searches past their working day and long-dead session rows go, for everyone."""
from datetime import timedelta

from sqlalchemy import select, update

from blueprints import scheduled
from blueprints.auth.models import Staff, StaffSession
from blueprints.search import kept
from blueprints.search.models import KeptSearch
from core import jobs
from core.extensions import db
from core.timeutil import utcnow
from tests.requests.helpers import login_as


def test_the_housekeeping_runs_every_night():
    assert any(entry.kind == "scheduled.housekeeping" and not entry.hourly for entry in scheduled.SCHEDULE)


def test_expired_kept_searches_and_old_sessions_of_anyone_are_deleted_and_fresh_ones_stay(app):
    login_as(app, "clerk")
    login_as(app, "reviewer")
    with app.app_context():
        clerk, reviewer = (db.session.scalar(select(Staff).where(Staff.username == name))
                           for name in ("clerk", "reviewer"))
        stale = kept.keep(reviewer, "archive", {"name": "刘䶮"})  # the reviewer never searches again
        fresh = kept.keep(clerk, "archive", {"name": "欧阳"})
        db.session.execute(update(KeptSearch).where(KeptSearch.key == stale)
                           .values(created_at=utcnow() - kept.KEPT_FOR - timedelta(minutes=1)))
        db.session.execute(update(StaffSession).where(StaffSession.staff_id == reviewer.id)
                           .values(last_seen_at=utcnow() - timedelta(days=91)))
        db.session.commit()

        result = jobs.KINDS["scheduled.housekeeping"].run(None)
        db.session.commit()

        assert result == {"kept_searches": 1, "sessions": 1}
        assert list(db.session.scalars(select(KeptSearch.key))) == [fresh]
        assert {s.staff_id for s in db.session.scalars(select(StaffSession))} == {clerk.id}
