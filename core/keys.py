"""Key rotation: re-encrypt every encrypted column (and stored file) under the current DATA_KEY.

Run with the new key as DATA_KEY and the old one in DATA_KEY_PREVIOUS (INDEX_KEY pinned, see
core/crypto.py): `flask --app app keys rotate`. Values already under the current key are left alone,
so a rotation that stops halfway is finished by running it again. `flask --app app keys status` counts
what is still under an old key; when it says none, DATA_KEY_PREVIOUS can go.
"""
from collections.abc import Callable, Iterator

import click
from flask.cli import AppGroup
from sqlalchemy import Table, Text, select, type_coerce, update

from core import crypto, files
from core.extensions import db

keys_cli = AppGroup("keys", help="The data key: rotation and what still needs it.")

BATCH = 500
# Holders of encrypted data besides the columns: (label, count_old() -> n, rotate() -> n).
EXTRA_STEPS: list[tuple[str, Callable[[], int], Callable[[], int]]] = [
    ("stored files", files.count_under_old_keys, files.reencrypt_under_current_key),
]


def encrypted_columns() -> Iterator[tuple[Table, list[str]]]:
    """Each table with encrypted columns, and their names."""
    for table in db.metadata.sorted_tables:
        names = [c.name for c in table.columns if isinstance(c.type, (crypto.EncryptedText, crypto.EncryptedJSON))]
        if names:
            yield table, names


def _batches(table: Table, names: list[str]):
    """(primary key, {column: raw stored token}) in primary-key order, BATCH rows at a time."""
    [pk] = table.primary_key.columns
    raw = [type_coerce(table.c[name], Text).label(name) for name in names]
    last = None
    while True:
        query = select(pk, *raw).order_by(pk).limit(BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows = db.session.execute(query).all()
        if not rows:
            return
        yield [(row[0], {name: getattr(row, name) for name in names}) for row in rows]
        last = rows[-1][0]


def count_old() -> dict[str, int]:
    """Per table.column: how many values an old key wrote."""
    ring = crypto.keyring()
    found: dict[str, int] = {}
    for table, names in encrypted_columns():
        for batch in _batches(table, names):
            for _pk, values in batch:
                for name, token in values.items():
                    if token is not None and not ring.is_current(token):
                        found[f"{table.name}.{name}"] = found.get(f"{table.name}.{name}", 0) + 1
    return found


def rotate_columns(progress: Callable[[str, int], None] = lambda _label, _n: None) -> int:
    """Re-encrypt every value an old key wrote; commits per batch. Returns how many values."""
    ring = crypto.keyring()
    total = 0
    for table, names in encrypted_columns():
        [pk] = table.primary_key.columns
        done = 0
        for batch in _batches(table, names):
            for key, values in batch:
                changed = {name: ring.encrypt(ring.decrypt(token)) for name, token in values.items()
                           if token is not None and not ring.is_current(token)}
                if changed:
                    db.session.execute(update(table).where(pk == key)
                                       .values({table.c[n]: type_coerce(v, Text) for n, v in changed.items()}))
                    done += len(changed)
            db.session.commit()
        if done:
            progress(table.name, done)
        total += done
    return total


@keys_cli.command("status")
def status_command():
    """Count the values and files still encrypted under an old key."""
    old = count_old()
    for label, count in sorted(old.items()):
        click.echo(f"{label}: {count}")
    extra = 0
    for label, counter, _rotate in EXTRA_STEPS:
        n = counter()
        extra += n
        if n:
            click.echo(f"{label}: {n}")
    if not old and not extra:
        click.echo("every value and file is under the current DATA_KEY")


@keys_cli.command("rotate")
def rotate_command():
    """Re-encrypt every column and file an old key wrote under the current DATA_KEY."""
    if not crypto.keyring().key_ids[1:]:
        click.echo("DATA_KEY_PREVIOUS is not set: only values the current key cannot read would need it", err=True)
    total = rotate_columns(lambda label, n: click.echo(f"{label}: {n} re-encrypted"))
    for label, _counter, rotate in EXTRA_STEPS:
        n = rotate()
        total += n
        click.echo(f"{label}: {n} re-encrypted")
    click.echo(f"done: {total} re-encrypted; run `keys status`, then remove DATA_KEY_PREVIOUS")
