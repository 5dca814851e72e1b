"""Reader pairing, terminals (终端) and the signed posts of card reads (读卡)."""
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, g
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from reader_agent import signing
from reader_agent.decode import KEYS as CARD_KEYS
from blueprints.reader.models import CardRead, ReaderDevice, ReaderNonce, Terminal
from core import audit, ratelimit
from core.db import keep_refusal
from core.extensions import db
from core.reference import IdType
from core.timeutil import utcnow

MAX_CLOCK_SKEW = timedelta(seconds=60)
# A card's longest text is its address (70 characters); its photo is 1024 bytes (1368 in base64).
MAX_CARD_FIELD = 200
MAX_PHOTO_RAW = 4096
# How long after the clerk presses 读卡 a posted read may still fill the step.
READ_FRESHNESS = timedelta(minutes=2)
# The terminal's cookie: browsers cap a cookie's life at 400 days, so use refreshes it.
TERMINAL_COOKIE = "terminal"
TERMINAL_COOKIE_MAX_AGE = timedelta(days=400)
TERMINAL_REFRESH = timedelta(days=1)


class PostRefused(Exception):
    """A reader post that is not accepted; `reason` goes to the log, never to the caller."""

    def __init__(self, reason: str, device: ReaderDevice | None = None):
        super().__init__(reason)
        self.reason = reason
        self.device = device


class MalformedRead(PostRefused):
    """A signed post whose card data is not what a reader sends; `message` tells the agent what is wrong."""

    def __init__(self, message: str, device: ReaderDevice):
        super().__init__("malformed body", device)
        self.message = message


class PairingRefused(Exception):
    """A terminal may not be paired with that reader (none chosen, another branch's, or revoked)."""


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """What the agent sends in X-Reader-Signature; one scheme, defined by the agent's own module."""
    return signing.sign(secret, timestamp, body)


def pair_device(branch_id: int, label: str, actor: Staff) -> tuple[ReaderDevice, str]:
    """Pair a new reader with a branch; the secret is returned once and kept encrypted."""
    secret = secrets.token_urlsafe(32)
    device = ReaderDevice(device_id=f"RD-{secrets.token_hex(6).upper()}", label=label.strip()[:60] or "读卡器",
                          branch_id=branch_id, secret=secret, paired_by_id=actor.id)
    db.session.add(device)
    db.session.flush()
    audit.record("reader.pair", "reader_device", device.device_id, actor=actor, branch_id=branch_id)
    return device, secret


def revoke_device(device: ReaderDevice, actor: Staff) -> None:
    """Revoke a reader: its posts are refused and the terminal it served loses it."""
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        audit.record("reader.revoke", "reader_device", device.device_id, actor=actor)
    if device.terminal is not None:
        unpair_terminal(device.terminal, actor, reason="revoked")
    db.session.flush()


def devices(user: Staff) -> list[ReaderDevice]:
    query = select(ReaderDevice).order_by(ReaderDevice.paired_at.desc())
    if not user.sees_all_branches:
        query = query.where(ReaderDevice.branch_id == user.branch_id)
    return list(db.session.scalars(query))


def pairable_devices(user: Staff) -> list[ReaderDevice]:
    """The readers a terminal of the user's branch may be paired with: the branch's, not revoked."""
    return list(db.session.scalars(select(ReaderDevice).where(
        ReaderDevice.branch_id == user.branch_id, ReaderDevice.revoked_at.is_(None)).order_by(ReaderDevice.label, ReaderDevice.id)))


def _token_hash(token: str) -> str:
    # Keyed, so a copy of the table cannot be turned back into working cookies by guessing.
    secret = current_app.config["SECRET_KEY"]
    key = hmac.digest(secret.encode() if isinstance(secret, str) else secret, b"reader-terminal-token", "sha256")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def _terminal_of_cookie(request) -> Terminal | None:
    token = request.cookies.get(TERMINAL_COOKIE) or ""
    if not token or len(token) > 128 or not token.isascii():
        return None
    return db.session.scalar(select(Terminal).where(Terminal.token_hash == _token_hash(token)))


def terminal_for(request, user: Staff | None = None) -> Terminal | None:
    """This browser's terminal, if its cookie names one registered in the user's branch."""
    user = user or current_user
    terminal = _terminal_of_cookie(request)
    if terminal is None or terminal.branch_id != user.branch_id:
        return None
    now = utcnow()
    if terminal.last_seen_at is None or now - terminal.last_seen_at > TERMINAL_REFRESH:
        terminal.last_seen_at = now
        g.terminal_cookie_refresh = request.cookies[TERMINAL_COOKIE]
    return terminal


def terminal_of_browser(request) -> Terminal | None:
    """The terminal this browser's cookie names, whatever its branch (for the pairing page)."""
    return _terminal_of_cookie(request)


def pair_terminal(terminal: Terminal | None, device: ReaderDevice | None, label: str,
                  actor: Staff) -> tuple[Terminal, str | None]:
    """Pair a browser's terminal (None: a browser that is none yet) with one of the actor's branch's readers.

    A new terminal is registered first and its token returned, for the cookie; the reader
    is taken away from any other terminal, and the terminal's previous reader is freed.
    Every change is audited.
    """
    # Serialise pairings of one reader (PostgreSQL) and see what the others committed meanwhile;
    # the unique device_id is the last word.
    if device is not None:
        device = db.session.scalar(select(ReaderDevice).where(ReaderDevice.id == device.id).with_for_update()
                                   .execution_options(populate_existing=True))
    if device is None or device.branch_id != actor.branch_id or device.revoked_at is not None:
        raise PairingRefused()
    label = label.strip()[:60] or "终端"
    token = None
    if terminal is None:
        token = secrets.token_urlsafe(32)
        terminal = Terminal(token_hash=_token_hash(token), label=label, branch_id=actor.branch_id,
                            created_by_id=actor.id, last_seen_at=utcnow())
        db.session.add(terminal)
        db.session.flush()
        audit.record("reader.terminal_register", "terminal", terminal.id, actor=actor, label=label)
    elif terminal.branch_id != actor.branch_id:
        # The browser moved to another branch: it keeps nothing of its old branch.
        if terminal.device is not None:
            unpair_terminal(terminal, actor, reason="branch changed")
        audit.record("reader.terminal_move", "terminal", terminal.id, actor=actor,
                     from_branch_id=terminal.branch_id, to_branch_id=actor.branch_id)
        terminal.branch_id = actor.branch_id
    if terminal.label != label:
        audit.record("reader.terminal_rename", "terminal", terminal.id, actor=actor, old=terminal.label, new=label)
        terminal.label = label
    if terminal.device_id == device.id:
        db.session.flush()
        return terminal, token
    previous = terminal.device
    holder = db.session.scalar(select(Terminal).where(Terminal.device_id == device.id)
                               .execution_options(populate_existing=True))
    if holder is not None:
        unpair_terminal(holder, actor, reason="moved", to_terminal_id=terminal.id)
    if previous is not None:
        terminal.device = None
        db.session.flush()
    terminal.device = device
    terminal.paired_at = utcnow()
    terminal.paired_by_id = actor.id
    db.session.flush()
    audit.record("reader.terminal_pair", "terminal", terminal.id, actor=actor, device=device.device_id,
                 previous_device=previous.device_id if previous else None,
                 from_terminal_id=holder.id if holder else None)
    return terminal, token


def unpair_terminal(terminal: Terminal, actor: Staff, reason: str = "unpaired", **detail) -> None:
    """Take the reader away from a terminal; its reads stop filling forms there."""
    device = terminal.device
    if device is None:
        return
    terminal.device = None
    terminal.paired_at = terminal.paired_by_id = None
    # Flush now, so the reader is free before another terminal takes it (unique device_id).
    db.session.flush()
    audit.record("reader.terminal_unpair", "terminal", terminal.id, actor=actor, device=device.device_id,
                 reason=reason, **detail)


def accept_post(device_id: str, timestamp: str, signature: str, body: bytes, now: datetime | None = None) -> CardRead:
    """Check a post's device, signature, age and novelty, then keep the card read."""
    now = now or utcnow()
    device = db.session.scalar(select(ReaderDevice).where(ReaderDevice.device_id == (device_id or "")))
    if device is None:
        raise PostRefused("unknown device")
    if device.revoked_at is not None:
        raise PostRefused("revoked device", device)
    if not (timestamp or "").isascii() or not (timestamp or "").isdigit():
        raise PostRefused("bad timestamp", device)
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise PostRefused("bad timestamp", device) from None
    if abs(now - sent_at) > MAX_CLOCK_SKEW:
        raise PostRefused("stale timestamp", device)
    signature = (signature or "").lower()
    # compare_digest takes ASCII text only (anything else raised: a 500 for a post nobody signed).
    if not signature.isascii() or not hmac.compare_digest(signature_for(device.secret, timestamp, body), signature):
        raise PostRefused("bad signature", device)
    try:
        with db.session.begin_nested():
            db.session.add(ReaderNonce(device_id=device.id, signature=signature.lower(), received_at=now))
    except IntegrityError:
        raise PostRefused("replayed post", device) from None
    fields, photo_raw = card_data(body, device)
    terminal = device.terminal
    read = CardRead(device_id=device.id, branch_id=device.branch_id, fields=fields,
                    photo_raw=photo_raw, read_at=now, terminal_id=terminal.id if terminal else None)
    db.session.add(read)
    device.last_seen_at = now
    # Nonces older than the accepted clock skew can never match a valid post again.
    db.session.execute(delete(ReaderNonce).where(ReaderNonce.received_at < now - 2 * MAX_CLOCK_SKEW))
    audit.record("reader.read", "reader_device", device.device_id, actor_name=device.device_id,
                 card_type=fields.get("card_type"), terminal_id=read.terminal_id)
    db.session.flush()
    return read


# Refused posts are counted per source address in fixed windows shared by every worker: past the limit a
# source is answered 429 before its posts are looked at, so that nobody can fill the audit trail
# without a reader's key. Refusals audited in all, whatever their sources, are bounded too.
REFUSAL_WINDOW = timedelta(minutes=1)
REFUSALS_AUDITED_IN_ALL = 300


def refusals_exceeded(remote_addr: str | None) -> bool:
    """Whether this source was refused too often in the current window to be heard now."""
    limit = current_app.config["READER_REFUSALS_PER_MINUTE"]
    return ratelimit.count("reader.refused", ratelimit.source_key(remote_addr), REFUSAL_WINDOW) >= limit


def card_data(body: bytes, device: ReaderDevice) -> tuple[dict, str | None]:
    """The card's fields and photo from a signed post, as the agent sends them (reader_agent.decode.KEYS,
    text or null; the photo base64): what the identity step later fills its form from."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise MalformedRead("读卡数据不是有效的 JSON", device) from None
    fields = payload.get("fields") if isinstance(payload, dict) else None
    if not isinstance(fields, dict):
        raise MalformedRead("读卡数据缺少 fields，或 fields 不是对象", device)
    if not set(fields) <= set(CARD_KEYS):
        raise MalformedRead("fields 含读卡器不会发送的项", device)
    for key, value in fields.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedRead(f"{key} 须为文本或 null", device)
        if len(value) > MAX_CARD_FIELD or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
            raise MalformedRead(f"{key} 过长或含控制字符", device)
    photo_raw = payload.get("photo_raw")
    if photo_raw is not None and not (isinstance(photo_raw, str) and len(photo_raw) <= MAX_PHOTO_RAW
                                      and re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", photo_raw)):
        raise MalformedRead(f"photo_raw 须为不超过 {MAX_PHOTO_RAW} 字符的 base64 文本或 null", device)
    return fields, photo_raw


def record_refusal(refused: PostRefused, remote_addr: str | None) -> None:
    """Count and audit a refused post; the rows are kept although the request answers 401."""
    keep_refusal()
    if ratelimit.within("reader.refused", remote_addr, REFUSAL_WINDOW,
                        current_app.config["READER_REFUSALS_PER_MINUTE"], REFUSALS_AUDITED_IN_ALL):
        audit.record("reader.refused", "reader_device", refused.device.device_id if refused.device else None,
                     actor_name="reader-api", reason=refused.reason, ip_seen=remote_addr)


def record_rate_limited(remote_addr: str | None) -> None:
    """Count a post turned away unheard; only a source's first one in a window is audited."""
    keep_refusal()
    if ratelimit.hit("reader.limited", ratelimit.source_key(remote_addr), REFUSAL_WINDOW) == 1:
        audit.record("reader.rate_limited", None, None, actor_name="reader-api", ip_seen=remote_addr)


def latest_read_for(terminal: Terminal | None, since: datetime, now: datetime | None = None) -> CardRead | None:
    """The newest unused read the terminal's reader posted for it since 读卡 was pressed.

    `since` comes back from the browser, so it is never taken as older than READ_FRESHNESS.
    """
    device = terminal.reader if terminal is not None else None
    if device is None:
        return None
    since = max(since, (now or utcnow()) - READ_FRESHNESS)
    return db.session.scalar(select(CardRead).where(
        CardRead.terminal_id == terminal.id, CardRead.device_id == device.id, CardRead.branch_id == terminal.branch_id,
        CardRead.read_at >= since, CardRead.used_by_application_id.is_(None))
        .order_by(CardRead.id.desc()).limit(1))


def usable_read(read_id, terminal: Terminal | None, user: Staff, application) -> CardRead | None:
    """The read a submitted identity step names, if this terminal's reader posted it for this terminal.

    Anything else (another tablet's read, another branch's, a revoked reader's, a read
    already used by another application) is ignored: the typed values stand on their own.
    """
    try:
        read_id = int(read_id or 0)
    except (TypeError, ValueError):
        return None
    if terminal is None or not 0 < read_id < 2**31:
        return None
    read = db.session.get(CardRead, read_id)
    if (read is None or read.terminal_id != terminal.id or read.branch_id != user.branch_id
            or read.branch_id != terminal.branch_id or read.device.revoked_at is not None
            or read.used_by_application_id not in (None, application.id)):
        return None
    return read


# The agent sends the server's ID-type values; older agents may send the card's own letter.
CARD_ID_TYPES = {None: "resident_id", "": "resident_id", "J": "hmt_residence_permit", "I": "foreign_permanent_residence",
                 **{t.value: t.value for t in IdType}}


def identity_values(read: CardRead) -> dict:
    """The identity step's form values taken from a card read (only what the card carries)."""
    fields = read.fields
    values = {
        "id_type": CARD_ID_TYPES.get(fields.get("card_type"), "resident_id"),
        "id_number": fields.get("id_number"),
        "name": fields.get("name"),
        "sex": fields.get("sex"),
        "ethnicity": fields.get("ethnicity"),
        "birth_date": fields.get("birth_date"),
        "address": fields.get("address"),
        "authority": fields.get("authority"),
        "valid_from": fields.get("valid_from"),
    }
    if fields.get("valid_to") == "长期":
        values["valid_long_term"] = True
    else:
        values["valid_to"] = fields.get("valid_to")
    return {key: value for key, value in values.items() if value not in (None, "")}


# How long the 读卡 button waits for a card before it says so.
CARD_WAIT = timedelta(seconds=60)


@dataclass(frozen=True)
class CardWait:
    """Where one poll of 读卡 stands: no reader paired here, a read arrived, still waiting, or given up."""

    unpaired: bool = False
    read: CardRead | None = None
    since: float | None = None  # the wait's start, sent back by the browser with the next poll
    timed_out: bool = False


def wait_for_card(request) -> CardWait:
    """One poll of the terminal's reader since the browser's `since` (the first poll starts the wait)."""
    terminal = terminal_for(request)
    if terminal is None or terminal.reader is None:
        return CardWait(unpaired=True)
    now = utcnow()
    try:
        since = datetime.fromtimestamp(float(request.args["since"]), timezone.utc).replace(tzinfo=None)
    except (KeyError, ValueError, OverflowError, OSError):
        since = now
    read = latest_read_for(terminal, since, now)
    if read is not None:
        audit.record("reader.fill", "card_read", read.id, terminal_id=terminal.id)
        return CardWait(read=read)
    return CardWait(since=since.replace(tzinfo=timezone.utc).timestamp(), timed_out=now - since > CARD_WAIT)
