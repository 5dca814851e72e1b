"""Reader pairing and the signed posts of card reads (读卡)."""
import hmac
import json
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from blueprints.opening.rules import IdType
from reader_agent import signing
from blueprints.reader.models import CardRead, ReaderDevice, ReaderNonce
from core import audit
from core.extensions import db
from core.timeutil import utcnow

MAX_CLOCK_SKEW = timedelta(seconds=60)
# How long after the clerk presses 读卡 a posted read may still fill the step.
READ_FRESHNESS = timedelta(minutes=2)


class PostRefused(Exception):
    """A reader post that is not accepted; `reason` goes to the log, never to the caller."""

    def __init__(self, reason: str, device: ReaderDevice | None = None):
        super().__init__(reason)
        self.reason = reason
        self.device = device


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
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        audit.record("reader.revoke", "reader_device", device.device_id, actor=actor)
    db.session.flush()


def devices(user: Staff) -> list[ReaderDevice]:
    query = select(ReaderDevice).order_by(ReaderDevice.paired_at.desc())
    if not user.sees_all_branches:
        query = query.where(ReaderDevice.branch_id == user.branch_id)
    return list(db.session.scalars(query))


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
    if not hmac.compare_digest(signature_for(device.secret, timestamp, body), (signature or "").lower()):
        raise PostRefused("bad signature", device)
    try:
        with db.session.begin_nested():
            db.session.add(ReaderNonce(device_id=device.id, signature=signature.lower(), received_at=now))
    except IntegrityError:
        raise PostRefused("replayed post", device) from None
    try:
        payload = json.loads(body)
        fields = dict(payload["fields"])
    except (ValueError, KeyError, TypeError):
        raise PostRefused("malformed body", device) from None
    read = CardRead(device_id=device.id, branch_id=device.branch_id, fields=fields,
                    photo_raw=payload.get("photo_raw"), read_at=now)
    db.session.add(read)
    device.last_seen_at = now
    # Nonces older than the accepted clock skew can never match a valid post again.
    db.session.execute(delete(ReaderNonce).where(ReaderNonce.received_at < now - 2 * MAX_CLOCK_SKEW))
    audit.record("reader.read", "reader_device", device.device_id, actor_name=device.device_id,
                 card_type=fields.get("card_type"))
    db.session.flush()
    return read


def record_refusal(refused: PostRefused, remote_addr: str | None) -> None:
    audit.record("reader.refused", "reader_device", refused.device.device_id if refused.device else None,
                 actor_name="reader-api", reason=refused.reason, ip_seen=remote_addr)


def latest_read(branch_id: int, since: datetime) -> CardRead | None:
    """The newest unused read of the branch's readers posted after `since`."""
    return db.session.scalar(select(CardRead).where(
        CardRead.branch_id == branch_id, CardRead.read_at >= since, CardRead.used_by_application_id.is_(None))
        .order_by(CardRead.id.desc()).limit(1))


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
