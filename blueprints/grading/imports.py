"""Import operations: keep the upload, check every row into staging, then swap all rows in at once or none.

`run_import(job_id)` is the whole job, callable from a request thread (launch_import), a worker
or the CLI. Rows are read as a stream and staged in batches, so memory stays flat however large
the file; the target tables are only touched in the last transaction, and only when no row was bad.
"""
import os

from flask import current_app
from sqlalchemy import and_, delete, exists, func, insert, select

from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer, CustomerKind
from blueprints.grading import importing
from blueprints.grading.models import (Commission, Holding, ImportJob, ImportKind, ImportRowError, ImportStaging,
                                       ImportStatus, IndustryIndexClose, SecurityPrice, TradingDay)
from core import audit, files
from core.extensions import db
from core.idempotency import made_with
from core.roles import Role
from core.timeutil import utcnow

BATCH_ROWS = 5000
# What each role may import: HQ everything; a branch manager the holdings and commissions of their branch.
KINDS_BY_ROLE = {Role.HQ_ADMIN: tuple(ImportKind), Role.BRANCH_MANAGER: (ImportKind.HOLDINGS, ImportKind.COMMISSIONS)}
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


class ImportRefused(Exception):
    """An upload that is not accepted; the message says why, in Chinese."""


def kinds_for(user: Staff) -> tuple:
    return KINDS_BY_ROLE.get(Role(user.role), ())


def save_upload(stream, file_name: str, max_bytes: int) -> tuple[str, int, str]:
    """Keep the uploaded file under its content hash, encrypted as it streams in; return (sha256, size, format)."""
    file_format = FORMATS.get(os.path.splitext(file_name or "")[1].lower())
    if file_format is None:
        raise ImportRefused("只能导入 CSV（.csv）或 Excel（.xlsx）文件")
    with files.writing(max_bytes) as out:
        while chunk := stream.read(1 << 20):
            if out.size + len(chunk) > max_bytes:
                raise ImportRefused(f"文件超过 {max_bytes // 1024 // 1024} MB 上限")
            out.write(chunk)
        if out.size == 0:
            raise ImportRefused("文件为空，请重新选择")
        head = out.head[:4]
        if file_format == "xlsx" and head != b"PK\x03\x04":
            raise ImportRefused("文件内容不是 Excel（.xlsx）格式（按文件内容识别，与文件名无关）")
        if file_format == "csv" and head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            raise ImportRefused("文件内容是 Excel 格式，请选择 .xlsx 文件名或另存为 CSV")
        stored = out.commit()
    return stored.sha256, stored.size, file_format


def job_for_token(actor: Staff, client_token: str | None) -> ImportJob | None:
    """The import this actor's form already started (a double submit); refused when another's did."""
    return made_with(ImportJob, client_token, actor.id, maker="requested_by_id")


def start_import(actor: Staff, kind: str, file_name: str, stream, max_bytes: int,
                 client_token: str | None = None) -> ImportJob:
    """Queue an import of `kind` from the uploaded stream; a branch manager's covers their branch only."""
    if kind not in kinds_for(actor):
        raise ImportRefused("您的岗位不能导入该类数据")
    sha256, size, file_format = save_upload(stream, file_name, max_bytes)
    branch_id = None if actor.role == Role.HQ_ADMIN else actor.branch_id
    job = ImportJob(kind=kind, file_name=os.path.basename(file_name)[:200], file_format=file_format, sha256=sha256,
                    size=size, branch_id=branch_id, requested_by_id=actor.id, client_token=client_token or None)
    db.session.add(job)
    db.session.flush()
    audit.record("grading.import_start", "import_job", job.id, kind=kind, file_name=job.file_name, size=size,
                 branch=branch_id)
    return job


def import_failed(job_id: int, message: str) -> None:
    """Record on the import that it could not be done (its job gave up), for the person who asked."""
    job = db.session.get(ImportJob, job_id)
    if job is not None and job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        job.status, job.error, job.finished_at = ImportStatus.FAILED, message[:500], utcnow()


def run_import(job_id: int) -> None:
    """Check every row of the job's file into staging, then swap them in, or record why not."""
    job = db.session.get(ImportJob, job_id, with_for_update=True)
    if job is None or job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        db.session.rollback()
        return
    if job.status == ImportStatus.RUNNING:  # taken up again after its worker died: start the file over
        db.session.execute(delete(ImportRowError).where(ImportRowError.job_id == job.id))
        db.session.execute(delete(ImportStaging).where(ImportStaging.job_id == job.id))
        job.rows_read = job.rows_bad = job.progress_done = 0
    job.status = ImportStatus.RUNNING
    db.session.commit()
    try:
        _stage(job)
        if job.rows_bad:
            _discard_staging(job.id)
            job.status = ImportStatus.REJECTED
        else:
            job.rows_imported = _swap_in(job)
            job.status = ImportStatus.DONE
        job.finished_at = utcnow()
        audit.record("grading.import_end", "import_job", job.id, actor=db.session.get(Staff, job.requested_by_id),
                     kind=job.kind, status=str(job.status), rows=job.rows_read, bad=job.rows_bad,
                     imported=job.rows_imported)
        db.session.commit()
    except Exception as error:  # recorded on the job; the log keeps the trace
        current_app.logger.exception("import %s failed", job_id)
        db.session.rollback()
        _discard_staging(job_id)
        job = db.session.get(ImportJob, job_id)
        job.status, job.error, job.finished_at = ImportStatus.FAILED, str(error)[:500], utcnow()
        db.session.commit()


def _stage(job: ImportJob) -> None:
    """Read the job's file: a CSV decrypted as it streams; an .xlsx (a zip, read out of order) from a private copy."""
    if job.file_format == "xlsx":
        with files.local_copy(job.sha256) as path:
            _stage_rows(job, importing.Table(lambda: open(path, "rb"), "xlsx"))
    else:
        _stage_rows(job, importing.Table(lambda: files.open_stored(job.sha256), "csv", size=job.size))


def _stage_rows(job: ImportJob, table: importing.Table) -> None:
    parser = importing.PARSERS[job.kind]
    rows = table.rows()
    try:
        try:
            _number, header = next(rows)
        except StopIteration:
            raise importing.FileError("文件没有内容（第 1 行应为表头）") from None
        positions = importing.header_map(job.kind, header)
        batch, bad, read = [], [], 0
        items = list(positions.items())
        for number, row in rows:
            if not any(row):  # cells arrive stripped: a blank row
                continue
            read += 1
            width = len(row)
            try:
                parsed = parser({key: (row[index] if index < width else "") for key, index in items})
                parsed["row_no"] = number
                batch.append((parsed, row))
            except importing.RowError as error:
                bad.append(_error(job.id, number, str(error), row))
            if len(batch) + len(bad) >= BATCH_ROWS:
                job.rows_read = read
                _flush(job, batch, bad, table)
                batch, bad = [], []
        job.rows_read = read
        _flush(job, batch, bad, table)
    except importing.FileError as error:
        db.session.rollback()
        db.session.execute(delete(ImportRowError).where(ImportRowError.job_id == job.id))
        db.session.add(ImportRowError(job_id=job.id, row_no=1, reason=str(error)))
        job.rows_bad = max(1, job.rows_bad)
        job.error = str(error)[:500]
        db.session.commit()
        return
    finally:
        _customer_cache.pop(job.id, None)
    _report_repeats(job)


def _error(job_id: int, row_no: int, reason: str, row: list[str]) -> dict:
    return {"job_id": job_id, "row_no": row_no, "reason": reason[:300], "raw": ",".join(row)[:500]}


def _flush(job: ImportJob, batch: list, bad: list, table) -> None:
    """Resolve the batch's customers and accounts, stage the good rows, record the bad, commit progress."""
    staged = []
    if job.kind in (ImportKind.HOLDINGS, ImportKind.COMMISSIONS) and batch:
        customers = _customers_by_no(job, {parsed["customer_no"] for parsed, _row in batch})
        accounts = _accounts_by_no({parsed["fund_account_no"] for parsed, _row in batch if parsed["fund_account_no"]})
        for parsed, row in batch:
            try:
                staged.append(_with_owner(job, parsed, customers, accounts))
            except importing.RowError as error:
                bad.append(_error(job.id, parsed["row_no"], str(error), row))
    else:
        staged = [parsed for parsed, _row in batch]
    if staged:
        # Core inserts (executemany): the ORM's bulk path costs several times as much per row.
        db.session.execute(ImportStaging.__table__.insert(), [_staging_row(job.id, row) for row in staged])
    if bad:
        db.session.execute(ImportRowError.__table__.insert(), bad)
    job.rows_bad += len(bad)
    job.progress_total, job.progress_done = table.total, table.done
    db.session.commit()


STAGING_COLUMNS = ("row_no", "dedup_key", "customer_id", "fund_account_id", "branch_id", "code", "other_code", "kind",
                   "day", "day_from", "day_to", "amount", "amount2", "flag")


def _staging_row(job_id: int, values: dict) -> dict:
    get = values.get
    return {"job_id": job_id, "row_no": values["row_no"], "dedup_key": values["dedup_key"],
            "customer_id": get("customer_id"), "fund_account_id": get("fund_account_id"), "branch_id": get("branch_id"),
            "code": get("code"), "other_code": get("other_code"), "kind": get("kind"), "day": get("day"),
            "day_from": get("day_from"), "day_to": get("day_to"), "amount": get("amount"), "amount2": get("amount2"),
            "flag": get("flag")}


CUSTOMER_CACHE_LIMIT = 200_000
_customer_cache: dict[int, dict] = {}


def _customers_by_no(job: ImportJob, numbers: set[str]) -> dict:
    """The batch's customers, remembered for the job's later batches (a file repeats its customers)."""
    cache = _customer_cache.setdefault(job.id, {})
    if len(cache) > CUSTOMER_CACHE_LIMIT:
        cache.clear()
    wanted = [number for number in numbers if number not in cache]
    for start in range(0, len(wanted), 1000):
        rows = db.session.execute(select(Customer.customer_no, Customer.id, Customer.branch_id, Customer.kind)
                                  .where(Customer.customer_no.in_(wanted[start:start + 1000])))
        cache.update({row.customer_no: row for row in rows})
    return cache


def _accounts_by_no(numbers: set[str]) -> dict:
    if not numbers:
        return {}
    rows = db.session.execute(select(FundAccount.number, FundAccount.id, FundAccount.customer_id, FundAccount.branch_id)
                              .where(FundAccount.number.in_(numbers)))
    return {row.number: row for row in rows}


def _with_owner(job: ImportJob, parsed: dict, customers: dict, accounts: dict) -> dict:
    customer = customers.get(parsed["customer_no"])
    if customer is None:
        raise importing.RowError(f"客户号“{parsed['customer_no']}”不存在")
    if customer.kind == CustomerKind.HISTORICAL:
        raise importing.RowError(f"客户“{parsed['customer_no']}”已销户")
    if customer.kind == CustomerKind.MERGED:
        raise importing.RowError(f"客户“{parsed['customer_no']}”已并入另一客户记录，请使用合并后的客户号")
    branch_id, account_id = customer.branch_id, None
    if parsed["fund_account_no"]:
        account = accounts.get(parsed["fund_account_no"])
        if account is None or account.customer_id != customer.id:
            raise importing.RowError(f"资金账号“{parsed['fund_account_no']}”不属于客户“{parsed['customer_no']}”")
        branch_id, account_id = account.branch_id, account.id
    if job.branch_id is not None and branch_id != job.branch_id:
        raise importing.RowError("该客户（账户）不属于本营业部，营业部只能导入本营业部的数据")
    parsed["customer_id"], parsed["fund_account_id"], parsed["branch_id"] = customer.id, account_id, branch_id
    return parsed


def _report_repeats(job: ImportJob) -> None:
    """A row repeating an earlier row's customer, account, code and kind (or code and date) is refused."""
    s, t = ImportStaging.__table__.alias("s"), ImportStaging.__table__.alias("t")
    earlier = (select(func.min(t.c.row_no)).where(t.c.job_id == s.c.job_id, t.c.dedup_key == s.c.dedup_key,
                                                  t.c.row_no < s.c.row_no).scalar_subquery())
    query = (select(s.c.row_no, earlier.label("first")).where(s.c.job_id == job.id, exists(
        select(t.c.id).where(t.c.job_id == s.c.job_id, t.c.dedup_key == s.c.dedup_key, t.c.row_no < s.c.row_no))))
    repeats = [_error(job.id, row.row_no, f"与第 {row.first} 行重复", []) for row in db.session.execute(query)]
    for start in range(0, len(repeats), BATCH_ROWS):
        db.session.execute(ImportRowError.__table__.insert(), repeats[start:start + BATCH_ROWS])
    job.rows_bad += len(repeats)
    db.session.commit()


def _discard_staging(job_id: int) -> None:
    db.session.execute(delete(ImportStaging).where(ImportStaging.job_id == job_id))
    db.session.commit()


def _swap_in(job: ImportJob) -> int:
    """One transaction: replace the target rows the staged ones cover, insert them, drop the staging rows."""
    s = ImportStaging.__table__
    staged = select(s).where(s.c.job_id == job.id).subquery()
    if job.kind == ImportKind.HOLDINGS:
        # A holdings file is the whole position: it replaces every holding (a branch's: that branch's).
        replaced = delete(Holding)
        if job.branch_id is not None:
            replaced = replaced.where(Holding.branch_id == job.branch_id)
        db.session.execute(replaced)
        columns = ("customer_id", "fund_account_id", "branch_id", "security_code", "quantity", "cost", "kind",
                   "listed_code", "lockup_start", "lockup_end", "import_job_id")
        source = select(staged.c.customer_id, staged.c.fund_account_id, staged.c.branch_id, staged.c.code,
                        staged.c.amount, staged.c.amount2, staged.c.kind, staged.c.other_code, staged.c.day_from,
                        staged.c.day_to, db.literal(job.id))
        target = Holding
    elif job.kind == ImportKind.PRICES:
        _replace_keys(SecurityPrice, SecurityPrice.security_code, "code", job.id)
        columns = ("security_code", "day", "close", "suspended", "industry_code")
        source = select(staged.c.code, staged.c.day, staged.c.amount, staged.c.flag, staged.c.other_code)
        target = SecurityPrice
        new_days = (select(staged.c.day).distinct()
                    .where(~exists(select(TradingDay.day).where(TradingDay.day == staged.c.day))))
        db.session.execute(insert(TradingDay).from_select(["day"], new_days))
    elif job.kind == ImportKind.INDEX:
        _replace_keys(IndustryIndexClose, IndustryIndexClose.industry_code, "code", job.id)
        columns = ("industry_code", "day", "close")
        source = select(staged.c.code, staged.c.day, staged.c.amount)
        target = IndustryIndexClose
    else:
        _replace_keys(Commission, Commission.customer_id, "customer_id", job.id)
        columns = ("customer_id", "day", "amount")
        source = select(staged.c.customer_id, staged.c.day, staged.c.amount)
        target = Commission
    result = db.session.execute(insert(target).from_select(list(columns), source))
    db.session.execute(delete(ImportStaging).where(ImportStaging.job_id == job.id))
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else job.rows_read


def _replace_keys(model, key_column, staged_key: str, job_id: int) -> None:
    """Delete the rows of `model` whose (key, day) a staged row of the job brings again."""
    s = ImportStaging.__table__
    covered = select(model.id).join(s, and_(s.c.job_id == job_id, s.c.day == model.day, s.c[staged_key] == key_column))
    db.session.execute(delete(model).where(model.id.in_(covered)))


def job_errors(job: ImportJob, limit: int | None = None):
    query = select(ImportRowError).where(ImportRowError.job_id == job.id).order_by(ImportRowError.row_no,
                                                                                   ImportRowError.id)
    if limit is not None:
        query = query.limit(limit)
    return db.session.scalars(query)


def error_pages(job_id: int, size: int = BATCH_ROWS):
    """Every refused row of a job as (row_no, reason, raw), a page at a time (for a download of any size)."""
    last = (-1, -1)
    while True:
        rows = db.session.execute(
            select(ImportRowError.row_no, ImportRowError.id, ImportRowError.reason, ImportRowError.raw)
            .where(ImportRowError.job_id == job_id,
                   (ImportRowError.row_no > last[0]) | ((ImportRowError.row_no == last[0]) & (ImportRowError.id > last[1])))
            .order_by(ImportRowError.row_no, ImportRowError.id).limit(size)).all()
        db.session.rollback()  # no transaction (and on SQLite no write lock) held between pages
        if not rows:
            return
        last = (rows[-1].row_no, rows[-1].id)
        yield [(row.row_no, row.reason, row.raw) for row in rows]


def find_job(user: Staff, job_id: int) -> ImportJob | None:
    """A job the user may see: HQ any, a branch manager those of their branch."""
    job = db.session.get(ImportJob, job_id)
    if job is None or user.role == Role.HQ_ADMIN:
        return job
    return job if job.branch_id == user.branch_id else None


def jobs_of(user: Staff, limit: int = 20) -> list[ImportJob]:
    query = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    if user.role != Role.HQ_ADMIN:
        query = query.where(ImportJob.branch_id == user.branch_id)
    return list(db.session.scalars(query))


