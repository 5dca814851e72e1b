"""Valid form data for each wizard step, and helpers that walk a draft to a step."""
import io
import json
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from stdnum import luhn
from stdnum.iso7064 import mod_11_2

from blueprints.opening.workflow import keys_for

# The drafts these helpers walk are on-site openings.
STEP_KEYS = keys_for("onsite")

QUESTIONNAIRE = json.loads(
    (Path(__file__).resolve().parents[1] / "blueprints/opening/questionnaires/individual-2026-v2.json").read_text("utf-8")
)


def make_id(prefix6: str = "110101", birth: str = "19900307", seq3: str = "123") -> str:
    """An 18-digit number with a correct GB 11643 check digit (odd sequence = male)."""
    body = f"{prefix6}{birth}{seq3}"
    return body + mod_11_2.calc_check_digit(body)


CUSTOMER_ID = make_id("110105", "19880612", "315")
BANK_CARD = "6222020200112233445"[:-1] + luhn.calc_check_digit("6222020200112233445"[:-1])
AGENT_ID = make_id("310115", "19750101", "222")


def identity(**overrides) -> dict:
    data = {
        "id_type": "resident_id",
        "id_number": CUSTOMER_ID,
        "name": "刘晓明",
        "sex": "M",
        "ethnicity": "汉族",
        "birth_date": "1988-06-12",
        "address": "北京市朝阳区建国路88号院3号楼1201",
        "authority": "北京市公安局朝阳分局",
        "valid_from": "2019-05-20",
        "valid_to": "2039-05-20",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def contact(**overrides) -> dict:
    data = {
        "mobile": "13812348000",
        "email": "liuxm@example.com",
        "address": "北京市朝阳区建国路88号院3号楼1201",
        "postcode": "100022",
        "occupation": "professional",
        "education": "bachelor",
        "employer": "北京某科技有限公司",
        "tax_residency": "cn_only",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def agent(**overrides) -> dict:
    data = {
        "has_agent": "yes",
        "agent_id_type": "resident_id",
        "agent_id_number": AGENT_ID,
        "agent_name": "刘建华",
        "agent_sex": "M",
        "agent_birth_date": "1975-01-01",
        "agent_valid_from": "2015-01-01",
        "agent_valid_long_term": "y",
        "relationship": "parent",
        "authorization_ref": "SQ-2026-0001",
        "notarization_no": "(2026)京长安内经证字第1234号",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def disclosure(explained_by: int, **overrides) -> dict:
    data = {"explained_by": str(explained_by), "customer_acknowledged": "y"}
    data.update(overrides)
    return data


def age_on_business_day(birth_date: str) -> int:
    from core.timeutil import business_today

    born, today = date.fromisoformat(birth_date), business_today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def answers(choice: str = "best", birth_date: str = "1988-06-12") -> dict:
    """Answers picking each question's highest ("best") or lowest-scoring non-knock-out option.

    The age question is answered as the ID's birth date says (the app refuses anything else).
    """
    result = {}
    age = age_on_business_day(birth_date)
    for question in QUESTIONNAIRE["questions"]:
        options = [o for o in question["options"] if not o.get("lowest")]
        if question.get("derive") == "age":
            options = [o for o in options if o["ages"][0] <= age and (o["ages"][1] is None or age <= o["ages"][1])]
        pick = max(options, key=lambda o: o["score"]) if choice == "best" else min(options, key=lambda o: o["score"])
        result[question["key"]] = pick["key"]
    return result


@lru_cache(maxsize=None)
def scan_png(width: int = 640, height: int = 400, shade: int = 200) -> bytes:
    """A real PNG a scanner could have made: large enough to read, small on disk."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, shade, 230)).save(buffer, format="PNG")
    return buffer.getvalue()


def documents(with_agent: bool = False, **overrides) -> dict:
    """Multipart data for the documents step: the ID's two sides, and the agent's papers."""
    kinds = ["id_front", "id_back"] + (["agent_id_front", "agent_id_back", "authorization"] if with_agent else [])
    data = {kind: (io.BytesIO(scan_png(shade=150 + i)), f"{kind}.png") for i, kind in enumerate(kinds)}
    data["action"] = "next"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def agreements(**overrides) -> dict:
    data = {
        "agreement_brokerage": "y",
        "agreement_depository": "y",
        "agreement_online_trading": "y",
        "agreement_privacy": "y",
        "change_method": "counter",
        "closure_method": "counter",
        "bank_code": "ICBC",
        "bank_card": BANK_CARD,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def step_url(reference: str, key: str) -> str:
    return f"/opening/{reference}/step/{key}"


def start(auth, token: str = "tok-1") -> str:
    """Start a draft; return its reference."""
    response = auth.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].split("/")[2]


def walk(auth, reference: str, until: str, clerk_id: int, with_agent: bool = False) -> None:
    """Save every step before `until` with valid data."""
    payloads = {
        "identity": identity(),
        "contact": contact(),
        "verification": {},
        "agent": resident_agent() if with_agent else {"has_agent": "no"},
        "documents": lambda: documents(with_agent),
        "disclosure": disclosure(clerk_id, agent_acknowledged="y" if with_agent else None) if with_agent else disclosure(clerk_id),
        "suitability": answers(),
        "agreements": agreements(),
    }
    for key in STEP_KEYS[1:STEP_KEYS.index(until)]:
        data = payloads[key]() if callable(payloads[key]) else payloads[key]
        response = auth.post(step_url(reference, key), data)
        assert response.status_code == 303, (key, response.status_code, response.get_data(as_text=True)[:2000])


# --- helpers added for the request-level tests -------------------------------------------

AGENT_PASSPORT = "E12345678"
# An existing customer seeded by blueprints/home/demo.py (张建国, female, born 1949-12-31).
EXISTING_CUSTOMER_ID = "11010519491231002X"


def business_date(years: int = 0, days: int = 0) -> str:
    """The ISO date `years` years and `days` days before today in Beijing, the date the app's rules use."""
    from core.timeutil import business_today

    today = business_today()
    try:
        shifted = today.replace(year=today.year - years)
    except ValueError:
        shifted = today.replace(year=today.year - years, day=28)
    return (shifted - timedelta(days=days)).isoformat()


def id_for_age(years: int, days: int = 0, prefix6: str = "110105", seq3: str = "315") -> tuple[str, str]:
    """An ID number and ISO birth date for somebody turning `years` `days` days ago (Beijing date)."""
    birth = business_date(years, days)
    return make_id(prefix6, birth.replace("-", ""), seq3), birth


def sex_of(id_number: str) -> str:
    """The sex an 18-digit number encodes (odd 17th digit = male)."""
    return "M" if int(id_number[16]) % 2 else "F"


def resident_agent(**overrides) -> dict:
    """agent() with the sex the agent's ID number encodes (AGENT_ID is a woman's number)."""
    data = {"agent_sex": sex_of(AGENT_ID)}
    data.update(overrides)
    return agent(**data)


def passport_agent(**overrides) -> dict:
    """An agent identified by passport, so no ID-card-only rule (ethnicity, region) applies."""
    data = {"agent_id_type": "passport", "agent_id_number": AGENT_PASSPORT}
    data.update(overrides)
    return agent(**data)


class Payloads(dict):
    """Step data by key; a file upload is made afresh each time it is read (a stream reads once)."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return value() if callable(value) else value


def payloads(clerk_id: int, agent_data: dict | None = None) -> dict:
    """Valid data for every step after channel; `agent_data` makes the draft one with an agent."""
    return Payloads({
        "identity": identity(),
        "contact": contact(),
        "verification": {},
        "agent": agent_data if agent_data is not None else {"has_agent": "no"},
        "documents": lambda: documents(bool(agent_data and agent_data.get("has_agent") == "yes")),
        "disclosure": disclosure(clerk_id, agent_acknowledged="y") if agent_data else disclosure(clerk_id),
        "suitability": answers(),
        "agreements": agreements(),
        "summary": {},
    })


def walk_with(auth, reference: str, until: str, clerk_id: int, **overrides) -> None:
    """Like walk(), with the payload of any step replaced: walk_with(..., identity=identity(name=...))."""
    data = payloads(clerk_id, overrides.pop("agent_data", None))
    data.update(overrides)
    for key in STEP_KEYS[1:STEP_KEYS.index(until)]:
        response = auth.post(step_url(reference, key), data[key])
        assert response.status_code == 303, (key, response.status_code, response.get_data(as_text=True)[:2000])


def existing_customer(customer_no: str, branch_id: int, name: str, id_number: str, id_type: str = "resident_id",
                      kind: str = "current"):
    """Add a customer the firm already has (call inside an app context; the caller commits)."""
    from blueprints.auth.models import Branch
    from blueprints.customers import services as customer_services
    from core.extensions import db as _db

    return customer_services.create_customer(
        branch=_db.session.get(Branch, branch_id), customer_no=customer_no, source="import", actor=None,
        reason="既有客户", kind=kind, values={"name": name, "id_type": id_type, "id_number": id_number})


def customer_named(name: str):
    """A select of the customer whose current profile carries `name`."""
    from sqlalchemy import select as _select

    from blueprints.customers import services as customer_services
    from blueprints.customers.models import Customer, CustomerProfile

    return _select(Customer).where(Customer.id.in_(
        customer_services.current_profiles().where(CustomerProfile.name == name)
        .with_only_columns(CustomerProfile.customer_id)))
