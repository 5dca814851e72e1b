"""The audit trail's hash chain: appended at commit, checked by `flask audit-verify`, append-only on PostgreSQL."""
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core import audit
from core.extensions import db
from core.models import AuditEvent


def _record(app, count, **detail):
    with app.app_context():
        for index in range(count):
            audit.record("test.event", "thing", index, **detail)
        db.session.commit()


def _tamper(app, sql, **params):
    """Change the table behind the app's back, as someone with database access would."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL session_replication_role = replica"))  # past the trigger
        db.session.execute(text(sql), params)
        db.session.commit()


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit-verify"])


def _ids_by_seq(app):
    with app.app_context():
        return db.session.execute(select(AuditEvent.seq, AuditEvent.id).order_by(AuditEvent.seq)).all()


def test_entries_are_chained_in_order_and_verify_ok(app):
    _record(app, 3, fields=("name",))
    _record(app, 2)

    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == audit.GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:]))
        assert rows[0].detail == {"fields": ["name"]}
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "OK: 5 entries" in result.output


def test_hash_is_keyed_so_a_plain_recomputation_does_not_verify(app):
    _record(app, 1)
    with app.app_context():
        entry = db.session.scalar(select(AuditEvent))
        assert audit.entry_hash(audit.chain_key(), entry) == entry.hash
        assert audit.entry_hash(b"someone else's key", entry) != entry.hash


def test_audit_verify_names_an_edited_entry(app):
    _record(app, 4)
    (_, _), (_, _), (_, third_id), _ = _ids_by_seq(app)
    _tamper(app, "UPDATE audit_event SET object_id = 'other' WHERE id = :id", id=third_id)

    result = _verify(app)

    assert result.exit_code == 1
    assert f"seq 3 (id {third_id}): edited" in result.output


def test_audit_verify_names_a_deleted_entry_as_missing(app):
    _record(app, 4)
    _tamper(app, "DELETE FROM audit_event WHERE seq = 2")

    result = _verify(app)

    assert result.exit_code == 1
    assert "seq 2: missing" in result.output


def test_audit_verify_names_a_deletion_hidden_by_renumbering_as_missing(app):
    _record(app, 4)
    _tamper(app, "DELETE FROM audit_event WHERE seq = 2")
    _tamper(app, "UPDATE audit_event SET seq = seq + 100 WHERE seq > 2")
    _tamper(app, "UPDATE audit_event SET seq = seq - 101 WHERE seq > 100")

    result = _verify(app)

    assert result.exit_code == 1
    assert "seq 2" in result.output and "missing" in result.output


def test_audit_verify_names_two_swapped_entries_as_reordered(app):
    _record(app, 4)
    _tamper(app, "UPDATE audit_event SET seq = 0 WHERE seq = 2")
    _tamper(app, "UPDATE audit_event SET seq = 2 WHERE seq = 3")
    _tamper(app, "UPDATE audit_event SET seq = 3 WHERE seq = 0")

    result = _verify(app)

    assert result.exit_code == 1
    assert "seq 2" in result.output and "reordered" in result.output and "written as seq 3" in result.output


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(app):
    with app.app_context():
        audit.record("test.undone")
        db.session.rollback()
        db.session.commit()
    _record(app, 1)
    with app.app_context():
        assert db.session.scalars(select(AuditEvent.action)).all() == ["test.event"]
    assert _verify(app).exit_code == 0


def test_concurrent_appends_never_fork_the_chain(app):
    threads, per_thread = 6, 5
    barrier = threading.Barrier(threads)
    errors = []

    def append():
        try:
            barrier.wait()
            for _ in range(per_thread):
                _record(app, 2)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=append) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not errors, errors
    with app.app_context():
        seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, threads * per_thread * 2 + 1))
    result = _verify(app)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET action = 'other'",
    "DELETE FROM audit_event",
    "TRUNCATE audit_event",
])
def test_postgresql_refuses_to_change_or_remove_audit_entries(app, statement):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the append-only trigger is PostgreSQL's")
    _record(app, 1)
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1
