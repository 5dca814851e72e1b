"""Backup and restore (数据库备份和还原): a consistent snapshot of the database and the file store, with a manifest.

`flask --app app backup DEST` writes, into a new (or empty) folder DEST:

    database.sqlite3   SQLite: a copy made with SQLite's online backup API (the app may keep writing)
    database.pgdump    PostgreSQL: `pg_dump -Fc` (one consistent snapshot of the database)
    files/ab/cd/<sha>  the local file store's files, as stored (already encrypted under DATA_KEY)
    manifest.json      what was copied, each with its SHA-256, written last: a backup without it is incomplete

The database is copied first, then the files. That order makes the pair consistent: a file is synced to
disk before the row naming it commits (core.storage), files are never changed in place (they are kept by
content), so every file the database copy names is already in the store when the files are copied.
Files added meanwhile are copied too and are harmless.

An S3 store is not copied: the bucket's own versioning and replication (with object lock where the
regulator asks for it) are its backup. The manifest lists the bucket, the prefix and every key at the
time of the backup; `restore` checks that each is still there.

`flask --app app restore SRC` checks every checksum in SRC first, then restores into an empty database
and an empty file store only (`--force` replaces what is there), then checks the restored files again.
The keys (SECRET_KEY, DATA_KEY) are not in a backup: they are kept apart (docs/deploy.md); the manifest
records the data key's id, and restore says when the current DATA_KEY does not read the files.
"""
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import inspect
from sqlalchemy.engine import URL, Engine

from core import files, storage

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_COPY = "database.sqlite3"
PG_DUMP = "database.pgdump"
FILES = "files"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_durably(source: str, target: str) -> None:
    storage.private_dir(os.path.dirname(target), durable=True)
    with open(source, "rb") as src, storage.private_file(target) as out:
        shutil.copyfileobj(src, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _prepare_destination(dest: str) -> None:
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise BackupError(f"{dest} exists and is not an empty folder: back up into a new one")
    storage.private_dir(dest, durable=True)


# --- PostgreSQL tools -----------------------------------------------------------------------------

def pg_tool(name: str) -> str:
    """The path of pg_dump or pg_restore: PG_BIN, then PATH, then the newest /usr/lib/postgresql/*/bin."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.path.join(os.environ["PG_BIN"], name))
    found = shutil.which(name)
    if found:
        candidates.append(found)
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                         key=lambda p: [int(x) if x.isdigit() else x for x in p.split("/")[4].split(".")],
                         reverse=True)
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client) or set PG_BIN")


def _libpq(url: URL) -> tuple[str, dict]:
    """A libpq connection URI for the tools, without the password (it goes in PGPASSWORD, not on a command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{os.path.basename(command[0])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


# --- backup ---------------------------------------------------------------------------------------

def backup(engine: Engine, store, dest: str, report=print) -> dict:
    """Write a snapshot of the database and the file store into `dest`; return the manifest."""
    dest = os.path.abspath(dest)
    _prepare_destination(dest)
    manifest = {"format": FORMAT, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "database": {"dialect": engine.dialect.name}, "files": {"backend": store.name},
                "data_key_id": files.key_id(files._file_key()).hex()}
    with engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    manifest["database"]["revision"] = revision
    if engine.dialect.name == "sqlite":
        target = os.path.join(dest, SQLITE_COPY)
        _sqlite_backup(engine.url.database, target)
        manifest["database"]["file"] = SQLITE_COPY
    elif engine.dialect.name == "postgresql":
        target = os.path.join(dest, PG_DUMP)
        conninfo, env = _libpq(engine.url)
        _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", target, conninfo], env)
        os.chmod(target, storage.FILE_MODE)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
        manifest["database"]["file"] = PG_DUMP
    else:
        raise BackupError(f"no backup for {engine.dialect.name}")
    manifest["database"]["sha256"] = _sha256_of(target)
    manifest["database"]["size"] = os.path.getsize(target)
    report(f"database ({engine.dialect.name}, revision {revision}) → {manifest['database']['file']}")

    if store.name == "local":
        copied = {}
        for digest in sorted(set(store.digests())):
            source = store._path(digest)
            target_file = os.path.join(dest, FILES, *storage.key_for(digest).split("/"))
            _copy_durably(source, target_file)
            copied[digest] = _sha256_of(target_file)  # of the stored (encrypted) bytes
        manifest["files"]["copied"] = copied
        report(f"{len(copied)} stored file(s) copied (encrypted as stored)")
    else:
        keys = sorted(set(store.digests()))
        manifest["files"].update(bucket=store.bucket, prefix=store.prefix, keys=keys,
                                 note="not copied: the bucket's versioning and replication are its backup")
        report(f"S3 bucket {store.bucket}: {len(keys)} key(s) listed in the manifest, not copied "
               "(the bucket's versioning and replication keep them)")

    path = os.path.join(dest, MANIFEST)
    with storage.private_file(path) as out:
        out.write(json.dumps(manifest, indent=1, sort_keys=True).encode())
        out.flush()
        os.fsync(out.fileno())
    storage.fsync_dir(dest)
    report(f"manifest written: {path}")
    return manifest


def _sqlite_backup(path: str, target: str) -> None:
    """Copy a live SQLite database with its backup API: a consistent snapshot while others write."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, storage.FILE_MODE)
    os.close(fd)
    source = sqlite3.connect(path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # In one step, inside one read transaction: in WAL mode the app's writers go on meanwhile and the
        # copy is the last committed state when it began (copying in steps would restart at each write).
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the copy fails SQLite's integrity check: {result}")
    finally:
        copy.close()
        source.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


# --- restore --------------------------------------------------------------------------------------

def read_manifest(src: str) -> dict:
    path = os.path.join(src, MANIFEST)
    if not os.path.exists(path):
        raise BackupError(f"{src} holds no {MANIFEST}: not a backup, or one that did not finish")
    with open(path) as handle:
        manifest = json.load(handle)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def verify(src: str) -> dict:
    """Check every checksum in the backup at `src`; return its manifest, or raise naming what differs."""
    manifest = read_manifest(src)
    database = manifest["database"]
    path = os.path.join(src, database["file"])
    if not os.path.exists(path) or _sha256_of(path) != database["sha256"]:
        raise BackupError(f"{database['file']} is missing or does not match its checksum")
    bad = [digest for digest, checksum in manifest["files"].get("copied", {}).items()
           if not os.path.exists(p := os.path.join(src, FILES, *storage.key_for(digest).split("/")))
           or _sha256_of(p) != checksum]
    if bad:
        raise BackupError(f"{len(bad)} file(s) of the backup are missing or altered, e.g. {bad[0]}")
    return manifest


def _database_is_empty(engine: Engine) -> bool:
    with engine.connect() as connection:
        return not inspect(connection).get_table_names()


def restore(engine: Engine, store, src: str, force: bool = False, report=print) -> dict:
    """Restore the backup at `src` into this app's database and file store; both must be empty unless `force`."""
    src = os.path.abspath(src)
    manifest = verify(src)
    database = manifest["database"]
    if database["dialect"] != engine.dialect.name:
        raise BackupError(f"the backup is of a {database['dialect']} database, the target is {engine.dialect.name}")
    if not force:
        if not _database_is_empty(engine):
            raise BackupError("the target database is not empty: restore into an empty one, or give --force to "
                              "replace what it holds")
        if manifest["files"]["backend"] == "local" and store.name == "local" and next(iter(store.digests()), None):
            raise BackupError(f"the target file store {store.root} is not empty: restore into an empty one, or give "
                              "--force")
    source = os.path.join(src, database["file"])
    engine.dispose()  # no pooled connection of this process keeps the old database open
    if engine.dialect.name == "sqlite":
        _sqlite_restore(source, engine.url.database)
    else:
        conninfo, env = _libpq(engine.url)
        command = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--dbname",
                   conninfo]
        if force:
            command[1:1] = ["--clean", "--if-exists"]
        _run(command + [source], env)
    report(f"database restored from {database['file']} (revision {database['revision']})")

    backend = manifest["files"]["backend"]
    if backend == "local":
        copied = manifest["files"].get("copied", {})
        for digest, checksum in copied.items():
            blob = os.path.join(src, FILES, *storage.key_for(digest).split("/"))
            if store.name == "local":
                staged = os.path.join(store.temp_dir, f"restore-{digest}")
                storage.private_dir(store.temp_dir)
                if os.path.exists(staged):
                    os.remove(staged)
                _copy_durably(blob, staged)
                store.put_file(digest, staged, replace=True)
                if _sha256_of(store._path(digest)) != checksum:
                    raise BackupError(f"restored file {digest} does not match its checksum")
            else:
                with open(blob, "rb") as handle:
                    store.put(digest, handle.read(), replace=True)
        report(f"{len(copied)} stored file(s) restored and checked")
    else:
        missing = [key for key in manifest["files"]["keys"] if not store.exists(key)]
        if missing:
            raise BackupError(f"{len(missing)} file(s) listed in the backup are not in the bucket, e.g. {missing[0]}: "
                              "restore them from the bucket's versions first")
        report(f"all {len(manifest['files']['keys'])} file(s) of the manifest are in the bucket")
    readable = {k.hex() for k in map(files.key_id, files._reading_keys())}
    if manifest.get("data_key_id") not in readable:
        report("WARNING: the current DATA_KEY is not the one the files were written under: set DATA_KEY (or "
               "DATA_KEY_PREVIOUS) to the key kept with this backup, or nothing encrypted can be read")
    return manifest


def _sqlite_restore(source: str, path: str) -> None:
    """Write the backup into the target file with SQLite's backup API (it replaces every page, -wal included)."""
    storage.private_dir(os.path.dirname(os.path.abspath(path)))
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, storage.FILE_MODE))
    backup_copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target = sqlite3.connect(path, timeout=30)
    try:
        backup_copy.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the restored database fails SQLite's integrity check: {result}")
    finally:
        target.close()
        backup_copy.close()
