"""Run in a separate process: approve one application, as a second reviewer might."""
import os


def approve_in_process(database_url: str, reference: str, reviewer_id: int, barrier, results) -> None:
    os.environ.pop("DATABASE_URL", None)

    from app import create_app
    from blueprints.auth.models import Staff
    from blueprints.opening import services as opening_services
    from blueprints.review import services as review
    from core.extensions import db

    # The throw-away test cluster runs without fsync: the production start's durability check is off.
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
                      "DATA_KEY": "test-data-key", "REQUIRE_DURABLE_DATABASE": False})
    with app.app_context():
        reviewer = db.session.get(Staff, reviewer_id)
        db.session.commit()
        barrier.wait(timeout=30)
        try:
            application = opening_services.find_visible(reviewer, reference, for_update=True)
            review.approve(application, reviewer, reviewer)
            db.session.commit()
            results.put(("approved", reviewer_id))
        except review.DecisionRefused as refused:
            db.session.rollback()
            results.put(("refused", str(refused)))
        except Exception as error:  # reported to the test, which fails on it
            db.session.rollback()
            results.put(("error", repr(error)))
