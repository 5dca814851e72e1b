"""Application factory for the account-opening and customer-records system."""
import os
import secrets
from datetime import timedelta

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from core import audit, crypto, jobs, logsafe
from core.db import (DatabaseNotDurable, check_durability, commits_response, configure_engine,
                     database_unavailable, sqlite_url_for, track_writes)
from core.extensions import csrf, db, htmx, login_manager, migrate
from core.pdf.pool import DEFAULT_RENDERS_PER_PROCESS
from core.security import PUBLIC_ENDPOINTS, refuse_undeclared_endpoint
from core.storage import build_store, private_dir


# Where the app may make its own keys: the demo, a developer's machine, the tests. Anywhere else
# (APP_MODE unset or "production") it refuses to start without them.
SELF_KEYED_MODES = frozenset({"demo", "development"})
KEY_NAMES = ("SECRET_KEY", "DATA_KEY")


class ConfigurationError(RuntimeError):
    """The app cannot start as configured; the message says what to set."""


def _secret_from_environment(env, name: str) -> str | None:
    """NAME from the environment, or the content of the file NAME_FILE names (a mounted secret)."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if path:
        try:
            with open(path) as handle:
                value = handle.read().strip()
        except OSError as error:
            raise ConfigurationError(f"{name}_FILE={path} cannot be read: {error.strerror}") from None
        if not value:
            raise ConfigurationError(f"{name}_FILE={path} is empty")
        return value
    return None


def _configure_keys(app: Flask, env, test_config: dict | None) -> None:
    """SECRET_KEY and DATA_KEY (and the rotation's previous keys, the index key) into the config."""
    given = test_config or {}
    mode = "test" if given.get("TESTING") else env.get("APP_MODE", "production")
    app.config["APP_MODE"] = mode
    for name in (*KEY_NAMES, "INDEX_KEY", "DATA_KEY_PREVIOUS"):
        value = given.get(name) or _secret_from_environment(env, name)
        if value:
            app.config[name] = value
    missing = [name for name in KEY_NAMES if not app.config.get(name)]
    if missing and mode not in SELF_KEYED_MODES | {"test"}:
        raise ConfigurationError(
            f"refusing to start in {mode} mode without {' and '.join(missing)}: set "
            + " and ".join(f"{n} (or {n}_FILE, a file holding it)" for n in missing)
            + " in the environment, the same on every app server; APP_MODE=demo makes its own")
    for name in missing:
        app.config[name] = _instance_secret(app.instance_path, name.lower())
    previous = tuple(k.strip() for k in (app.config.get("DATA_KEY_PREVIOUS") or "").split(",") if k.strip())
    if previous and not app.config.get("INDEX_KEY"):
        raise ConfigurationError(
            "DATA_KEY_PREVIOUS is set but INDEX_KEY is not: set INDEX_KEY to the data key the blind indexes "
            "were made with (the first DATA_KEY), or every lookup by ID number and mobile stops matching")
    app.extensions["keyring"] = crypto.Keyring(app.config["DATA_KEY"], previous, app.config.get("INDEX_KEY"))


def _instance_secret(instance_path: str, name: str) -> str:
    """Read or create a random secret kept in the instance folder (development default)."""
    path = os.path.join(instance_path, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    with open(path) as handle:
        return handle.read().strip()


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app: defaults, then environment, then test overrides."""
    logsafe.install()  # before anything logs: no log line can be forged by a value written into it
    app = Flask(__name__, instance_relative_config=True)
    private_dir(app.instance_path)  # keys, database and files: the owner only
    env = os.environ
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=env.get("DATABASE_URL") or sqlite_url_for(app.instance_path),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SQLITE_BUSY_TIMEOUT_MS=int(env.get("SQLITE_BUSY_TIMEOUT_MS", "15000")),
        # PostgreSQL must run with fsync and synchronous_commit on (checked at start and on every connection).
        # 0 only for a throw-away test cluster; the tests (TESTING) never check.
        REQUIRE_DURABLE_DATABASE=env.get("REQUIRE_DURABLE_DATABASE", "1") != "0",
        # A staff session ends on the server after this long without a request, and this long after login.
        IDLE_TIMEOUT=timedelta(minutes=int(env.get("IDLE_TIMEOUT_MINUTES", "20"))),
        SESSION_ABSOLUTE_HOURS=int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=env.get("SESSION_COOKIE_SECURE", "0") == "1",
        # Strict-Transport-Security on HTTPS responses; a year by default once cookies are HTTPS-only.
        HSTS_MAX_AGE=int(env.get("HSTS_MAX_AGE") or (31536000 if env.get("SESSION_COOKIE_SECURE") == "1" else 0)),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (server-side, time-limited) session
        IDENTITY_SERVICE=env.get("IDENTITY_SERVICE", "simulator"),
        IDENTITY_SERVICE_TIMEOUT=float(env.get("IDENTITY_SERVICE_TIMEOUT", "5")),
        CHINA_CLEARING_SERVICE=env.get("CHINA_CLEARING_SERVICE", "simulator"),
        # China Clearing answers only on weekdays in these Beijing hours ("09:00-16:00"); unset: always.
        CHINA_CLEARING_SERVICE_HOURS=env.get("CHINA_CLEARING_SERVICE_HOURS") or None,
        DEPOSITORY_BANK_SERVICE=env.get("DEPOSITORY_BANK_SERVICE", "simulator"),
        TRADING_SERVICE=env.get("TRADING_SERVICE", "simulator"),  # the centralised trading system 集中交易
        # After this many attempts a request still pending shows on the exceptions screen as failing.
        OUTBOX_FAILING_AFTER_ATTEMPTS=int(env.get("OUTBOX_FAILING_AFTER_ATTEMPTS", "3")),
        FILE_STORE=env.get("FILE_STORE") or os.path.join(app.instance_path, "files"),
        # Where stored files live: "local" (the FILE_STORE folder) or "s3" (credentials: the standard AWS variables).
        FILE_STORE_BACKEND=env.get("FILE_STORE_BACKEND", "local"), S3_BUCKET=env.get("S3_BUCKET"),
        S3_ENDPOINT_URL=env.get("S3_ENDPOINT_URL"), S3_PREFIX=env.get("S3_PREFIX", ""), S3_REGION=env.get("S3_REGION"),
        MAX_IMAGE_PIXELS=int(env.get("MAX_IMAGE_MEGAPIXELS", "40")) * 1_000_000,  # checked before an upload is decoded
        MAX_RECORDING_BYTES=int(env.get("MAX_RECORDING_MB", "20")) * 1024 * 1024,
        MAX_SCAN_BYTES=int(env.get("MAX_SCAN_MB", "10")) * 1024 * 1024,
        # Background jobs (core.jobs): how long a worker's claim holds without a heartbeat, how many jobs one
        # worker process runs at once, and how many processes render PDFs for it (default: one per core).
        JOB_LEASE_SECONDS=float(env.get("JOB_LEASE_SECONDS", "15")),
        JOB_THREADS=int(env.get("JOB_THREADS", "2")),
        JOB_RENDER_PROCESSES=int(env["JOB_RENDER_PROCESSES"]) if env.get("JOB_RENDER_PROCESSES") else None,
        # A render process is replaced by a fresh one after this many renders (it grows by its caches); 0: never.
        JOB_RENDERS_PER_PROCESS=int(env.get("JOB_RENDERS_PER_PROCESS", DEFAULT_RENDERS_PER_PROCESS)),
        # Run the jobs a request queued inside that request, after its commit (the tests; no worker needed).
        JOBS_EAGER=False,
        # The worker queues the daily and hourly work itself (blueprints/scheduled.py); 0 leaves it to cron.
        SCHEDULE_ENABLED=env.get("SCHEDULE_ENABLED", "1") == "1",
        MAX_CONTENT_LENGTH=int(env.get("MAX_UPLOAD_MB", "25")) * 1024 * 1024,
        FIRM_NAME=env.get("FIRM_NAME", "示范证券股份有限公司"),
        RETURN_VISIT_MAX_ATTEMPTS=int(env.get("RETURN_VISIT_MAX_ATTEMPTS", "3")),  # calls per round, then the branch manager
        REVIEW_CLAIM_MINUTES=int(env.get("REVIEW_CLAIM_MINUTES", "30")),  # how long a reviewer's take (认领) holds
        REVIEW_INBOX_PAGE_SIZE=int(env.get("REVIEW_INBOX_PAGE_SIZE", "50")),
        # Complaint deadlines: the firm's own settings (no official day count is known).
        COMPLAINT_FIRST_CONTACT_WORKING_DAYS=int(env.get("COMPLAINT_FIRST_CONTACT_WORKING_DAYS", "1")),
        COMPLAINT_RESOLUTION_DAYS=env.get("COMPLAINT_RESOLUTION_DAYS", "general:15,important:10,urgent:5"),
        COMPLAINT_EXTENSION_DAYS=int(env.get("COMPLAINT_EXTENSION_DAYS", "15")),
        COMPLAINT_MAX_EXTENSIONS=int(env.get("COMPLAINT_MAX_EXTENSIONS", "1")),
        # Working days are Monday–Friday less these holidays, plus these weekend workdays (调休): ISO dates, commas.
        SERVICE_HOLIDAYS=env.get("SERVICE_HOLIDAYS", ""),
        SERVICE_WORKDAYS=env.get("SERVICE_WORKDAYS", ""),
        REMINDER_DAYS_AHEAD=int(env.get("REMINDER_DAYS_AHEAD", "2")),
        # How long the home page's reminder card is shown as counted before it is counted again.
        REMINDER_CARD_SECONDS=int(env.get("REMINDER_CARD_SECONDS", "300")),
        # Refused reader posts (unknown device, bad signature) one address may send a minute before it gets 429.
        READER_REFUSALS_PER_MINUTE=int(env.get("READER_REFUSALS_PER_MINUTE", "20")),
        # Days an expired ID document may go unrenewed before the customer's business is restricted.
        ID_EXPIRY_GRACE_DAYS=int(env.get("ID_EXPIRY_GRACE_DAYS", "30")),
    )
    _configure_keys(app, env, test_config)
    if test_config:
        app.config.update(test_config)
    if env.get("PROXY_FIX") == "1":
        # Behind one reverse proxy: take the client address from X-Forwarded-For for the audit trail.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    from blueprints.auth.sessions import ServerSessionInterface

    app.session_interface = ServerSessionInterface()

    db.init_app(app)
    track_writes()
    audit.seal_on_commit()
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    require_durable = app.config["REQUIRE_DURABLE_DATABASE"] and not app.config.get("TESTING")
    if not require_durable and not app.config.get("TESTING"):
        app.logger.warning("REQUIRE_DURABLE_DATABASE=0: the database's durability is not checked")
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], require_durable=require_durable)
        if require_durable:
            try:
                check_durability(db.engine)
            except DatabaseNotDurable as error:
                raise ConfigurationError(f"refusing to start: {error}") from None

    from blueprints.accounts.china_clearing import build_china_clearing
    from blueprints.accounts.depository_bank import build_depository_bank
    from blueprints.accounts.trading import build_trading_system
    from blueprints.opening.identity_service import build_identity_service

    app.extensions["identity_service"] = build_identity_service(app.config)
    app.extensions["china_clearing"] = build_china_clearing(app.config)
    app.extensions["depository_bank"] = build_depository_bank(app.config)
    app.extensions["trading"] = build_trading_system(app.config)
    app.extensions["file_store"] = build_store(app.config)
    _register_models()
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_error_handlers(app)
    _register_template_helpers(app)
    _register_commands(app)
    return app


def _register_models() -> None:
    # Import every model module so Alembic and relationships see the whole schema.
    import blueprints.accounts.models  # noqa: F401
    import blueprints.accounts.services  # noqa: F401  (registers the outbox handlers)
    import blueprints.archive.models  # noqa: F401
    import blueprints.closure.models  # noqa: F401
    import blueprints.closure.services  # noqa: F401  (registers the closure steps' outbox handlers)
    import blueprints.auth.models  # noqa: F401
    import blueprints.reader.models  # noqa: F401
    import blueprints.return_visit.models  # noqa: F401
    import blueprints.review.models  # noqa: F401
    import blueprints.statistics.indexes  # noqa: F401
    import blueprints.statistics.crm_indexes  # noqa: F401
    import core.outbox  # noqa: F401
    import core.jobs  # noqa: F401
    import blueprints.archive.jobs  # noqa: F401  (registers the archive's job kinds)
    import blueprints.changes.jobs  # noqa: F401
    import blueprints.grading.jobs  # noqa: F401
    import blueprints.scheduled  # noqa: F401  (the daily and hourly work the job worker queues)
    import blueprints.customers.models  # noqa: F401
    import blueprints.managers.models  # noqa: F401
    import blueprints.merges.models  # noqa: F401
    import blueprints.service.models  # noqa: F401
    import blueprints.dictionaries.models  # noqa: F401
    import blueprints.id_expiry.models  # noqa: F401
    import blueprints.prospects.models  # noqa: F401
    import blueprints.grading.models  # noqa: F401
    import blueprints.products.models  # noqa: F401
    import blueprints.search.models  # noqa: F401
    import blueprints.reminders.models  # noqa: F401
    import blueprints.search.services  # noqa: F401  (keeps the search keys with every profile version)
    import blueprints.opening.models  # noqa: F401
    import blueprints.staff_admin.models  # noqa: F401
    import blueprints.retention.models  # noqa: F401
    import core.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from blueprints.accounts.routes import bp as exceptions_bp
    from blueprints.archive.routes import bp as archive_bp
    from blueprints.audit_trail.routes import bp as audit_trail_bp
    from blueprints.jobs.routes import bp as jobs_bp
    from blueprints.closure.routes import bp as closure_bp
    from blueprints.auth.routes import bp as auth_bp
    from blueprints.reader.routes import bp as reader_bp
    from blueprints.auth.services import load_staff
    from blueprints.home.routes import bp as home_bp
    from blueprints.changes.routes import bp as changes_bp
    from blueprints.customers.routes import bp as customers_bp
    from blueprints.managers.routes import bp as managers_bp
    from blueprints.service.routes import bp as service_bp
    from blueprints.grading.routes import bp as grading_bp
    from blueprints.products.routes import bp as products_bp
    from blueprints.opening.routes import bp as opening_bp
    from blueprints.return_visit.routes import bp as return_visit_bp
    from blueprints.review.routes import bp as review_bp
    from blueprints.reminders.routes import bp as reminders_bp
    from blueprints.reminders.services import register_built_in as register_reminders
    from blueprints.service.reminders import register as register_service_reminders
    from blueprints.managers.reminders import register as register_handover_reminders
    from blueprints.merges.reminders import register as register_merge_reminders
    from blueprints.reminders.card import forget_after_own_writes as forget_reminder_cards_after_own_writes
    from blueprints.merges.routes import bp as merges_bp
    from blueprints.dictionaries.routes import bp as dictionaries_bp
    from blueprints.prospects.routes import bp as prospects_bp
    from blueprints.statistics.routes import bp as statistics_bp
    from blueprints.search.routes import bp as search_bp
    from blueprints.staff_admin.routes import bp as staff_admin_bp
    import blueprints.search.list_routes  # noqa: F401  (the customer list, added to the customers blueprint)

    login_manager.user_loader(load_staff)
    login_manager.unauthorized_handler(_unauthorized)
    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(opening_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(return_visit_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(changes_bp)
    app.register_blueprint(archive_bp)
    app.register_blueprint(audit_trail_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(reader_bp)
    app.register_blueprint(exceptions_bp)
    app.register_blueprint(closure_bp)
    app.register_blueprint(managers_bp)
    app.register_blueprint(service_bp)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(dictionaries_bp)
    app.register_blueprint(prospects_bp)
    register_reminders()
    register_service_reminders()
    register_handover_reminders()
    register_merge_reminders()
    forget_reminder_cards_after_own_writes()
    import blueprints.id_expiry.panel  # noqa: F401  (the restriction's part of the customer page)
    app.register_blueprint(statistics_bp)
    app.register_blueprint(grading_bp)
    app.register_blueprint(products_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(merges_bp)
    app.register_blueprint(staff_admin_bp)


def _unauthorized():
    """Send anonymous users to the login page.

    A full page is redirected, and so is an htmx GET (HX-Redirect). An htmx post is not:
    jumping to the login page would throw away what the clerk typed, so it gets 401 with
    the login address (coming back to the page it was on), and app.js keeps the form's
    values in the tab until the clerk is back.
    """
    from urllib.parse import urlsplit

    from flask import make_response

    if request.htmx and request.method == "GET":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    if request.htmx:
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = current.path + (f"?{current.query}" if current.query else "") if current.path.startswith("/") else None
        response = make_response("登录已失效，请重新登录", 401)
        response.headers["X-Login-Url"] = url_for("auth.login", next=back)
        return response
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


# What the Server header says under either server: nothing of the software or its version.
SERVER_HEADER = "kyc"


def _name_the_development_server_generically() -> None:
    """Werkzeug's development server puts its own and Python's versions in every Server header; it says
    SERVER_HEADER instead. gunicorn's header is set in gunicorn.conf.py."""
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.version_string = lambda handler: SERVER_HEADER


def _note_lapsed_session() -> None:
    """The cookie named a session that ended or timed out: record a timeout's end, tell the staff member.

    Runs before the CSRF check can refuse the request too (the token went with the session), so a save
    after the idle timeout also brings the message to the login page.
    """
    from blueprints.auth.models import Staff
    from blueprints.auth.sessions import end_lapsed, lapse_message
    from core.db import keep_refusal

    reason = getattr(session, "lapsed", None)
    if not reason or request.endpoint in SESSIONLESS_ENDPOINTS:
        return
    session.lapsed = None
    if reason in ("idle", "absolute"):
        staff_id = end_lapsed(reason)
        staff = db.session.get(Staff, staff_id) if staff_id else None
        audit.record("auth.session_expired", actor=staff, actor_name=None if staff else "(unknown)", reason=reason)
        keep_refusal()  # an htmx save answers 401: the ending and its audit row are kept all the same
    flash(lapse_message(reason), "warning")


# Requests that carry no staff member's session (a device's signed post, the load balancer's probe).
SESSIONLESS_ENDPOINTS = frozenset({"static", "home.health", "reader.post_read"})


def _register_request_hooks(app: Flask) -> None:
    _name_the_development_server_generically()

    def answer_busy_when_the_session_could_not_be_read():
        # The session store met a busy or unreachable database before any handler ran.
        error = getattr(session, "unavailable", None)
        if error is not None:
            return _database_busy(error, "before_commit")
        return None

    # First of all hooks, before the CSRF check (which would refuse the session it cannot see) and the
    # blueprints' own.
    app.before_request_funcs.setdefault(None, []).insert(0, answer_busy_when_the_session_could_not_be_read)

    @app.before_request
    def require_login_and_fresh_session():
        _note_lapsed_session()
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if not current_user.is_authenticated:
            return _unauthorized()
        return None

    # After the login check (hooks run in order): a view without a roles declaration admits nobody.
    app.before_request(refuse_undeclared_endpoint)

    @app.before_request
    def refuse_nul_characters():
        # No text the app keeps or looks up may hold NUL: PostgreSQL refuses it in any text value (a 500
        # wherever a posted value, a URL part or a file name reached a query). No browser sends one typed.
        values = [*(request.view_args or {}).values(), *(v for _k, v in request.args.items(multi=True))]
        # The reader API's body is signed bytes, read raw and checked by the API itself: never parsed as a form.
        if request.endpoint != "reader.post_read" and request.mimetype in (
                "multipart/form-data", "application/x-www-form-urlencoded"):
            values += [v for _k, v in request.form.items(multi=True)]
            values += [f.filename for _k, f in request.files.items(multi=True)]
        if any(isinstance(value, str) and "\x00" in value for value in values):
            abort(400, "提交的内容含有无法识别的字符（NUL），请删除后重试。")

    @app.after_request
    def commit_request(response):
        # One commit per request, at its boundary, and only for a success (2xx, 3xx): a refused or
        # failed request leaves nothing written. Operations only flush.
        # Asked before the commit, which expires the loaded staff member: after it, asking would read
        # the row again.
        if g.get("database_busy"):
            pass  # answered 503 already: nothing to record or commit, the database is not to be asked again
        else:
            authenticated = current_user.is_authenticated
            status = response.status_code
            if authenticated:
                audit.record_unrecorded_read(status)
            else:
                audit.record_anonymous_denied(status, PUBLIC_ENDPOINTS)
            if commits_response(status):
                response = _commit_or_busy(response)
            else:
                db.session.rollback()
            if authenticated and status in audit.DENIED_STATUSES:
                audit.record_denied(status, PUBLIC_ENDPOINTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'",
        )
        response.headers.pop("X-Powered-By", None)
        if request.endpoint != "static":
            # Any answer but a static file may carry customer data: never stored by a browser or a proxy,
            # whatever the view set (send_file's conditional caching included), and never revalidated.
            response.headers["Cache-Control"] = "no-store"
            for validator in ("ETag", "Last-Modified", "Expires"):
                response.headers.pop(validator, None)
        if app.config["HSTS_MAX_AGE"] and request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={app.config['HSTS_MAX_AGE']}")
        return response

    @app.teardown_request
    def rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()


def _commit_or_busy(response):
    """Commit the request's work; a database busy or unreachable at that moment answers 503 instead.

    What the user is told depends on where it failed: in the commit itself the outcome is not known
    (a connection lost during COMMIT may or may not have committed), after it the work is saved.
    """
    from sqlalchemy.exc import DBAPIError

    phase = "commit"
    try:
        db.session.commit()
        phase = "after_commit"
        audit.write_after_read()
        jobs.run_queued_by_this_request()
    except DBAPIError as error:
        if not database_unavailable(error):
            raise
        return _database_busy(error, phase)
    return response


# What a user is told when the database is busy or out of reach, by how far the request got.
DATABASE_BUSY_MESSAGES = {
    "read": "数据库繁忙，请稍后刷新页面重试。",
    "before_commit": "数据库繁忙，请稍后重试（您的输入未保存，{where}）。",
    "commit": "数据库繁忙，无法确认本次操作是否已保存，请稍后刷新页面查看，确认未保存后再重新提交。",
    "after_commit": "数据库繁忙（您本次的操作已保存，无需重新提交），请稍后刷新页面。",
}
DATABASE_RETRY_AFTER_SECONDS = 5


def _database_busy(error, phase: str):
    """503 with Retry-After: a locked or unreachable database is a moment to wait, never a 500.

    For htmx a banner swapped into the flash area while the form stays as typed (app.js); for a
    whole page one that needs nothing from the database (no menu, no user's name).
    """
    from flask import make_response

    # Built without the signed-in user: loading them asks the database again (here and in commit_request).
    g._login_user = login_manager.anonymous_user()
    g.database_busy = True
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool replaces it
        current_app.logger.debug("rollback after a database error failed", exc_info=True)
    current_app.logger.warning("database unavailable (%s, %s %s): %s", phase, request.method, request.path,
                         getattr(error, "orig", error))
    if request.method in ("GET", "HEAD"):
        phase = "read"  # nothing typed; a page whose read could not be recorded is not shown
    message = DATABASE_BUSY_MESSAGES[phase].format(
        where="仍在页面上，可稍后直接再次提交" if request.htmx else "请返回上一页后再次提交")
    title = "数据库繁忙"

    def render(template, **context):
        # Without the context processors: they ask the database (the signed-in user, their menu).
        return current_app.jinja_env.get_template(template).render(config=current_app.config, **context)

    if request.htmx:
        response = make_response(render("errors/_banner.html", title=title, message=message), 503)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        retry = request.full_path if request.method == "GET" else None
        response = make_response(render("errors/database_busy.html", title=title, message=message,
                                        retry_url=retry), 503)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


# Chinese title and default message for each error status the app answers with.
ERROR_PAGES = {
    400: ("请求有误", "提交的数据无法识别，请刷新页面后重试。"),
    403: ("无权操作", "您的岗位无权执行此操作。"),
    404: ("未找到", "您要找的页面或记录不存在，或不属于您的营业部。"),
    405: ("操作不支持", "不支持该操作方式。"),
    409: ("操作冲突", "记录已被他人修改，请刷新后重试。"),
    413: ("文件过大", "上传的文件超过大小上限，请压缩后重试。"),
    422: ("内容有误", "提交的内容未通过检查，请按页面提示修改后重试。"),
    429: ("操作过于频繁", "请求过于频繁，请稍候再试。"),
    500: ("系统错误", "系统出现异常，已记录。您已保存的内容不会丢失，请稍后重试。"),
}


def _register_error_handlers(app: Flask) -> None:
    from sqlalchemy.orm.exc import StaleDataError
    from werkzeug.exceptions import HTTPException

    from core.render import error_response

    def error_page(error):
        original = getattr(error, "original_exception", None)
        if original is not None and database_unavailable(original):
            return _database_busy(original, "commit")  # raised where the outcome is not known
        db.session.rollback()
        status = getattr(error, "code", 500) or 500
        title, message = ERROR_PAGES.get(status, ERROR_PAGES[500])
        # abort(403, "…") carries a specific Chinese reason; werkzeug's English default does not.
        if isinstance(error, HTTPException) and error.description != type(error).description:
            message = error.description
        return error_response(status, title, message)

    for status in ERROR_PAGES:
        app.register_error_handler(status, error_page)

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        db.session.rollback()
        _note_lapsed_session()
        if not current_user.is_authenticated and request.endpoint not in PUBLIC_ENDPOINTS:
            # Logged out in another tab, or the session ended: the token went with it.
            return _unauthorized()
        return error_response(400, "请求已失效", "页面已过期或来源不明，请刷新页面后重试。")

    from core.idempotency import TokenNotYours

    @app.errorhandler(TokenNotYours)
    def token_not_yours(error):
        # Another staff member's form token (copied or replayed): nothing of their record is named, and the
        # refusal is audited as a denied access (403). For htmx a banner: what was typed stays on the page.
        db.session.rollback()
        return error_response(403, error.title, error.message)

    @app.errorhandler(StaleDataError)
    def concurrent_change(_error):
        # Another request saved the same record between our read and our write.
        db.session.rollback()
        return error_response(409, "操作冲突", "该记录刚被其他操作修改，请刷新页面后重试（您本次的输入未保存）。")

    from sqlalchemy.exc import DBAPIError

    @app.errorhandler(DBAPIError)
    def database_error(error):
        # Raised before the commit (loading the user, the view, a flush): nothing was saved.
        if not database_unavailable(error):
            raise error
        return _database_busy(error, "before_commit")

    @app.errorhandler(401)
    def unauthorized(_error):
        return _unauthorized()


def _register_template_helpers(app: Flask) -> None:
    from core import masking
    from core.roles import ROLE_LABELS
    from core.timeutil import to_beijing

    app.jinja_env.globals.update(ROLE_LABELS=ROLE_LABELS)
    app.jinja_env.filters["mask_id"] = masking.mask_id_number
    app.jinja_env.filters["mask_mobile"] = masking.mask_mobile
    app.jinja_env.filters["mask_name"] = masking.mask_name
    app.jinja_env.filters["mask_address"] = masking.mask_address
    app.jinja_env.filters["mask_card"] = masking.mask_bank_card

    @app.template_filter("bjtime")
    def bjtime(value, fmt="%Y-%m-%d %H:%M"):
        local = to_beijing(value)
        return local.strftime(fmt) if local else ""


def _register_commands(app: Flask) -> None:
    from blueprints.accounts.cli import outbox_worker_command
    from blueprints.closure.cli import accounts_cli
    from blueprints.home.demo import seed_demo_command
    from blueprints.managers.cli import managers_cli
    from blueprints.service.cli import service_cli
    import blueprints.id_expiry.cli  # noqa: F401  (adds its commands to the customers group)
    import blueprints.search.cli  # noqa: F401  (the same)
    from blueprints.customers.cli import customers_cli
    from blueprints.grading.cli import grading_cli
    from core.audit_cli import audit_verify_command
    from core.keys import keys_cli
    from core.jobs_cli import jobs_cli
    from blueprints.staff_admin.cli import staff_cli

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_verify_command)
    app.cli.add_command(outbox_worker_command)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(managers_cli)
    app.cli.add_command(service_cli)
    app.cli.add_command(customers_cli)
    app.cli.add_command(grading_cli)
    app.cli.add_command(staff_cli)
    from core.files_cli import files_cli

    app.cli.add_command(files_cli)
    from core.access_matrix import access_matrix_command

    app.cli.add_command(access_matrix_command)

    from core.backup_cli import backup_command, restore_command
    from blueprints.retention.cli import archive_cli

    app.cli.add_command(archive_cli)

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
