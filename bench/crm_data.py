"""Generate a realistic customer base in bulk: branches, customers, profiles, ID documents, accounts, search keys.

Usage (as a library): `generate(app, count)` inside the benchmarks; as a script:
    .venv/bin/python bench/crm_data.py --customers 100000       # into DATABASE_URL (or instance/ SQLite)

Names come from a frequency-weighted surname list (polyphonic and compound surnames included)
and given-name characters with a few from CJK Extension A and B; branches are weighted like a
real network (a few large, many small). Rows go in with executemany (SQLite) or COPY
(PostgreSQL), so a million customers take minutes.
"""
import argparse
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from stdnum.iso7064 import mod_11_2  # noqa: E402

from blueprints.search import keys  # noqa: E402
from core import crypto  # noqa: E402
from core.extensions import db  # noqa: E402

# Surnames with rough shares (per mille) of the population; the rest share what is left.
SURNAMES = [("王", 72), ("李", 72), ("张", 68), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 22), ("赵", 22),
            ("吴", 20), ("周", 19), ("徐", 13), ("孙", 12), ("马", 12), ("朱", 11), ("胡", 11), ("郭", 10),
            ("何", 10), ("林", 9), ("高", 9), ("罗", 9), ("郑", 8), ("梁", 8), ("谢", 7), ("宋", 6), ("唐", 6),
            ("许", 6), ("韩", 6), ("冯", 5), ("邓", 5), ("曹", 5), ("彭", 5), ("曾", 5), ("肖", 5), ("田", 5),
            ("董", 4), ("袁", 4), ("潘", 4), ("于", 4), ("蒋", 4), ("蔡", 4), ("余", 4), ("杜", 4), ("叶", 4),
            ("程", 4), ("苏", 4), ("魏", 3), ("吕", 3), ("丁", 3), ("任", 3), ("沈", 3), ("姚", 3), ("卢", 3),
            ("单", 1), ("解", 1), ("区", 1), ("查", 1), ("仇", 1), ("朴", 1), ("覃", 1), ("翟", 1), ("乐", 1),
            ("缪", 1), ("盖", 1), ("冼", 1), ("欧阳", 1), ("司马", 1), ("上官", 1), ("诸葛", 1), ("尉迟", 1),
            ("万俟", 1), ("长孙", 1), ("澹台", 1), ("令狐", 1), ("皇甫", 1)]
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌宇浩然子轩欣怡梓涵"
         "晨雨泽佳琪思远博文嘉怡一诺雅静俊杰海燕春梅长乐重阳行健")
RARE = ["㛃", "㵘", "䶮", "𠀋", "𡈽", "𣲙", "𤭢", "𨭉"]  # Extension A and B, about 1 name in 200
REGIONS = ["110105", "110108", "310115", "310104", "440305", "440106", "330106", "320102", "510107", "420106",
           "370102", "610113", "500103", "120101", "210102", "350203", "430104", "650102", "530102", "460105"]
TRANSLITERATED = ["买买提·艾力", "阿依古丽·买买提", "热依拉·吐尔逊", "艾尔肯·吐尔洪"]


def _weighted(items, rng):
    population = [item for item, _weight in items]
    weights = [weight for _item, weight in items]
    return lambda: rng.choices(population, weights)[0]


def _id_number(region: str, birth: date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + mod_11_2.calc_check_digit(body)


def _bulk(conn, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        # Times in the text form SQLAlchemy writes (with microseconds), so that they compare with
        # the application's own rows and with bound parameters as equal times do.
        rows = [tuple(f"{v:%Y-%m-%d %H:%M:%S.%f}" if isinstance(v, datetime) else v for v in row) for row in rows]
        placeholders = ", ".join("?" for _ in columns)
        conn.connection.driver_connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def ensure_branches(conn, count: int = 20) -> list[tuple[int, str, int]]:
    """(branch id, code, a clerk's staff id) for `count` branches, created when missing."""
    from blueprints.auth.models import Branch, Staff

    out = []
    template = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
    for index in range(count):
        code = f"{(index // 9) + 1:02d}{(index % 9) + 1:02d}"
        branch = db.session.scalar(select(Branch).where(Branch.code == code))
        if branch is None:
            branch = Branch(code=code, name=f"模拟第{index + 1}营业部", is_headquarters=False)
            db.session.add(branch)
            db.session.flush()
        staff = db.session.scalar(select(Staff).where(Staff.branch_id == branch.id, Staff.role == "clerk"))
        if staff is None:
            staff = Staff(username=f"bench{code}", full_name="模拟柜员", role="clerk", branch_id=branch.id,
                          password_hash=template.password_hash)
            db.session.add(staff)
            db.session.flush()
        out.append((branch.id, code, staff.id))
    db.session.commit()
    return out


def generate(count: int, seed: int = 2026, batch: int = 5000, progress=None) -> dict:
    """Add `count` customers with their rows; returns a sample of values to search for."""
    rng = random.Random(seed)
    surname = _weighted(SURNAMES + [("江", 40), ("石", 30), ("龙", 30), ("方", 30), ("贺", 30)], rng)
    conn = db.session.connection()
    branches = ensure_branches(conn)
    branch_weights = [60, 40, 30, 20] + [8] * (len(branches) - 4)
    start = (db.session.scalar(select(func.max(text("id"))).select_from(text("customer"))) or 0) + 1
    start_app = (db.session.scalar(select(func.max(text("id"))).select_from(text("application"))) or 0) + 1
    now = datetime(2026, 11, 1)
    sample: dict[str, list] = {k: [] for k in ("name", "pinyin", "initials", "given", "id", "id15", "mobile",
                                               "customer_no", "fund_account", "unified", "sub_account", "surname")}
    pending: dict[str, list] = {t: [] for t in ("customer", "profile", "doc", "app", "fund", "sec", "key")}
    shared_mobile = None

    def flush():
        c = db.session.connection()
        _bulk(c, "customer", ["id", "customer_no", "branch_id", "customer_type", "kind", "profile_version",
                              "unified_account_no", "created_at"], pending["customer"])
        _bulk(c, "customer_profile", ["customer_id", "version", "name", "id_type", "id_number", "id_number_index",
                                      "name_key", "name_pinyin", "name_initials", "sex", "birth_date", "mobile",
                                      "mobile_index", "source", "created_at"], pending["profile"])
        _bulk(c, "customer_id_document", ["customer_id", "version", "id_type", "id_number", "id_number_index", "name",
                                          "birth_date", "valid_from", "valid_to", "source", "recorded_at"], pending["doc"])
        _bulk(c, "application", ["id", "reference", "client_token", "branch_id", "channel", "customer_type", "status",
                                 "created_by_id", "created_at", "updated_at", "customer_name", "id_type", "customer_id",
                                 "version", "submission_no"], pending["app"])
        _bulk(c, "fund_account", ["id", "number", "branch_id", "customer_id", "application_id", "status", "opened_at"],
              pending["fund"])
        _bulk(c, "securities_account", ["customer_id", "fund_account_id", "market", "number", "unified_account_no",
                                        "status", "simulated", "opened_at"], pending["sec"])
        _bulk(c, "customer_search_key", ["customer_id", "kind", "value"], pending["key"])
        db.session.commit()
        for rows in pending.values():
            rows.clear()

    for offset in range(count):
        cid, aid = start + offset, start_app + offset
        branch_id, code, staff_id = rng.choices(branches, branch_weights)[0]
        if rng.random() < 0.004:
            name = rng.choice(TRANSLITERATED)
        else:
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
            if rng.random() < 0.005:
                given = given[:-1] + rng.choice(RARE)
            name = surname() + given
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
        roll = rng.random()
        id_type = "resident_id" if roll < 0.985 else ("hmt_residence_permit" if roll < 0.993 else "passport")
        if id_type == "resident_id":
            id_number = _id_number(rng.choice(REGIONS), birth, offset % 1000)
        elif id_type == "passport":
            id_number = f"E{cid:08d}"
        else:
            id_number = _id_number("810000", birth, offset % 1000)
        if shared_mobile and rng.random() < 0.01:
            mobile = shared_mobile
        else:
            mobile = f"1{rng.choice('3578')}{cid:09d}"
            shared_mobile = mobile
        encrypted_id, id_index = crypto.encrypt(id_number), crypto.blind_index(id_number)
        mobile_index = crypto.blind_index(mobile)
        created = now - timedelta(minutes=rng.randrange(60 * 24 * 3650))
        customer_no = f"C9{cid:09d}"  # apart from real numbers (C + branch code + 6 digits)
        unified = f"18{cid:010d}"
        fund_no = f"{code}{cid:08d}"
        pending["customer"].append((cid, customer_no, branch_id, "individual", "current", 1, unified, created))
        first_reading = keys.readings(name)[0]
        pending["profile"].append((cid, 1, name, id_type, encrypted_id, id_index, keys.name_key(name),
                                   "".join(first_reading), "".join(s[:1] for s in first_reading),
                                   None, birth, crypto.encrypt(mobile), mobile_index, "import", created))
        valid_to = created.date() + timedelta(days=rng.choice((3650, 7300))) if birth.year > 1975 else None
        pending["doc"].append((cid, 1, id_type, encrypted_id, id_index, name, birth, created.date(), valid_to,
                               "import", created))
        pending["app"].append((aid, f"B{cid:012d}", f"bench-{cid}", branch_id, "counter", "individual", "approved",
                               staff_id, created, created, name, id_type, cid, 1, 1))
        pending["fund"].append((aid, fund_no, branch_id, cid, aid, "active", created))
        sh, sz = f"A{cid:09d}", f"0{cid:09d}"
        pending["sec"].append((cid, aid, "SH", sh, unified, "active", True, created))
        pending["sec"].append((cid, aid, "SZ", sz, unified, "active", True, created))
        for kind, value in sorted(keys.customer_keys(name=name, id_number_index=id_index, mobile_index=mobile_index)):
            pending["key"].append((cid, kind, value))
        if offset % max(1, count // 200) == 0:
            folded = keys.fold_name(name)
            surname_part, given_part = keys.split_surname(folded)
            reading = keys.readings(name)[0]
            sample["name"].append(folded)
            sample["surname"].append(folded[:1])
            sample["given"].append(given_part[:1] or folded)
            sample["pinyin"].append("".join(reading))
            sample["initials"].append("".join(s[0] for s in reading))
            sample["id"].append(id_number)
            if id_type == "resident_id" and birth.year < 2000:
                sample["id15"].append(id_number[:6] + id_number[8:17])
            sample["mobile"].append(mobile)
            sample["customer_no"].append(customer_no)
            sample["fund_account"].append(fund_no)
            sample["unified"].append(unified)
            sample["sub_account"].append(rng.choice((sh, sz)))
        if len(pending["customer"]) >= batch:
            flush()
            if progress:
                progress(offset + 1)
    flush()
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        for table in ("customer", "application", "fund_account"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10000)
    args = parser.parse_args()
    from app import create_app

    app = create_app()
    with app.app_context():
        generate(args.customers, progress=lambda n: print(f"{n} customers", flush=True))


if __name__ == "__main__":
    main()
