"""Finding customers from the header box: every key, branch scope, masking by role, audit, no values in URLs."""
import re
from datetime import date

import pytest
from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind
from blueprints.search.models import CustomerSearchKey
from core.extensions import db
from core.masking import mask_id_number, mask_name
from core.models import AuditEvent
from tests import factories
from tests.conftest import csrf_token_from
from tests.requests.helpers import login_as, page_of

ID_ZHANG = factories.make_id("110105", "19800115", "137")
OLD_HOLDER = factories.make_id("110105", "19650704", "021")  # upgraded from a 15-digit number
OLD_NUMBER = OLD_HOLDER[:6] + OLD_HOLDER[8:17]
X_HOLDER = next(n for n in (factories.make_id("110105", "19760301", f"{s:03d}") for s in range(1, 999)) if n.endswith("X"))
MOBILE = "13912345678"


def add_customer(customer_no: str, name: str, id_number: str, branch_code: str = "0101", mobile: str | None = None,
                 id_type: str = "resident_id", birth_date: date | None = None, kind: str = "current") -> int:
    branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
    customer = customer_services.create_customer(
        branch=branch, customer_no=customer_no, source="import", actor=None, reason="既有客户", kind=kind,
        values={"name": name, "id_type": id_type, "id_number": id_number, "mobile": mobile, "birth_date": birth_date})
    return customer.id


@pytest.fixture
def customers(app):
    with app.app_context():
        add_customer("C0101100001", "张伟", ID_ZHANG, mobile=MOBILE)
        add_customer("C0101100002", "曾小明", factories.make_id("110105", "19850203", "211"))
        add_customer("C0101100003", "单田芳", factories.make_id("110105", "19700203", "411"))
        add_customer("C0101100004", "解晓东", factories.make_id("110105", "19710203", "511"))
        add_customer("C0101100005", "区丽华", factories.make_id("110105", "19720203", "611"))
        add_customer("C0101100006", "欧阳修文", factories.make_id("110105", "19730203", "711"))
        add_customer("C0101100007", "尉迟敬德", factories.make_id("110105", "19740203", "811"))
        add_customer("C0101100008", "买买提·艾力", factories.make_id("650102", "19800808", "113"))
        add_customer("C0101100009", "王𠀋", factories.make_id("110105", "19900909", "911"))
        add_customer("C0101100010", "刘老人", OLD_HOLDER)
        add_customer("C0101100011", "赵克斯", X_HOLDER)
        add_customer("C0201100001", "张伟", factories.make_id("310115", "19800115", "155"), branch_code="0201")
        add_customer("C0101100012", "張偉民", factories.make_id("110105", "19811111", "131"))
        db.session.commit()


def suggest(auth, q: str):
    return auth.post("/search/suggest", {"q": q}, htmx=True)


def customer_nos(response) -> list[str]:
    body = response.get_data(as_text=True)
    return [n for n in (part.split('"')[0] for part in body.split('href="/customers/')[1:]) if n]


@pytest.mark.parametrize("query, expected", [
    ("张伟", "C0101100001"), ("zw", "C0101100001"), ("zhangwei", "C0101100001"), ("zhang w", "C0101100001"),
    ("zhang wei", "C0101100001"), ("ZHANG WEI", "C0101100001"), ("ｚｈａｎｇ", "C0101100001"),
    ("伟", "C0101100001"),  # the given name, without the surname
    ("zengxiaoming", "C0101100002"), ("zxm", "C0101100002"),
    ("shantianfang", "C0101100003"), ("xiexiaodong", "C0101100004"), ("oulihua", "C0101100005"),
    ("ouyangxiuwen", "C0101100006"), ("oyxw", "C0101100006"), ("yuchijingde", "C0101100007"), ("ycjd", "C0101100007"),
    ("修文", "C0101100006"),
    ("买买提·艾力", "C0101100008"), ("买买提•艾力", "C0101100008"), ("买买提‧艾力", "C0101100008"),
    ("买买提．艾力", "C0101100008"), ("买买提・艾力", "C0101100008"), ("艾力", "C0101100008"),
    ("maimaitiaili", "C0101100008"),
    ("王𠀋", "C0101100009"), ("𠀋", "C0101100009"),
    ("張偉", "C0101100001"), ("张伟民", "C0101100012"),  # traditional and simplified find each other
    (ID_ZHANG, "C0101100001"), (" ".join([ID_ZHANG[:6], ID_ZHANG[6:14], ID_ZHANG[14:]]), "C0101100001"),
    (ID_ZHANG.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}), "C0101100001"),
    (OLD_NUMBER, "C0101100010"), (X_HOLDER.lower(), "C0101100011"),
    (MOBILE, "C0101100001"), ("C0101100004", "C0101100004"),
])
def test_each_key_finds_its_customer(app, customers, query, expected):
    response = suggest(login_as(app, "clerk"), query)
    assert response.status_code == 200
    assert expected in customer_nos(response), (query, response.get_data(as_text=True)[:1500])


def test_account_numbers_find_their_customer_within_the_branch(app, customers):
    from blueprints.accounts.models import FundAccount, SecuritiesAccount
    from blueprints.opening.models import Application

    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == "C0101100004"))
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        application = Application(reference="A-SEARCH-1", client_token="search-1", branch_id=customer.branch_id,
                                  channel="counter", customer_type="individual", status="approved",
                                  created_by_id=clerk.id, customer_id=customer.id)
        db.session.add(application)
        db.session.flush()
        fund = FundAccount(number="010112345678", branch_id=customer.branch_id, customer_id=customer.id,
                           application_id=application.id)
        db.session.add(fund)
        db.session.flush()
        db.session.add(SecuritiesAccount(customer_id=customer.id, fund_account_id=fund.id, market="SH",
                                         number="A123456789", unified_account_no="180000000042", simulated=True))
        customer.unified_account_no = "180000000042"
        db.session.commit()
    for username in ("clerk", "manager", "admin"):
        auth = login_as(app, username)
        for number, label in (("010112345678", "资金账号"), ("180000000042", "一码通账号"), ("a123456789", "证券账户")):
            response = suggest(auth, number)
            assert response.status_code == 200, (username, number)
            assert customer_nos(response) == ["C0101100004"] and f"按{label}" in response.get_data(as_text=True)
    assert customer_nos(suggest(login_as(app, "clerk_sh"), "010112345678")) == []


def test_polyphonic_surname_is_read_as_a_surname(app, customers):
    auth = login_as(app, "clerk")
    assert "C0101100002" not in customer_nos(suggest(auth, "cengxiaoming"))
    assert "C0101100003" not in customer_nos(suggest(auth, "dantianfang"))


def test_the_dropdown_says_what_matched(app, customers):
    auth = login_as(app, "clerk")
    assert "按拼音首字母" in suggest(auth, "zw").get_data(as_text=True)
    assert "按证件号码" in suggest(auth, OLD_NUMBER).get_data(as_text=True)
    assert "15 位与 18 位身份证号一并查找" in suggest(auth, OLD_NUMBER).get_data(as_text=True)
    assert "按手机号" in suggest(auth, MOBILE).get_data(as_text=True)
    assert "按名字" in suggest(auth, "伟").get_data(as_text=True)


def test_another_branch_never_appears_and_hq_sees_all(app, customers):
    assert customer_nos(suggest(login_as(app, "clerk"), "zhangwei")) == ["C0101100001", "C0101100012"]
    assert customer_nos(suggest(login_as(app, "clerk_sh"), "zhangwei")) == ["C0201100001"]
    assert sorted(customer_nos(suggest(login_as(app, "admin"), "zhangwei"))) == ["C0101100001", "C0101100012",
                                                                                  "C0201100001"]
    assert customer_nos(suggest(login_as(app, "clerk_sh"), ID_ZHANG)) == []


def test_closed_customer_drops_out_of_search(app, customers):
    with app.app_context():
        add_customer("C0101100099", "张伟", factories.make_id("110105", "19600101", "999"), kind=CustomerKind.HISTORICAL)
        db.session.commit()
    assert "C0101100099" not in customer_nos(suggest(login_as(app, "admin"), "张伟"))


def test_results_are_masked_unless_the_role_sees_full_ids(app, customers):
    clerk = suggest(login_as(app, "clerk"), "zhangwei").get_data(as_text=True)
    assert "张伟" in clerk and ID_ZHANG in clerk and MOBILE not in clerk
    for username in ("manager", "visitor", "admin"):
        body = suggest(login_as(app, username), "zhangwei").get_data(as_text=True)
        assert mask_name("张伟") in body and mask_id_number(ID_ZHANG) in body, username
        assert "张伟" not in body and ID_ZHANG not in body and ID_ZHANG[6:14] not in body and MOBILE not in body, username


def test_roles_without_customers_cannot_search(app, customers):
    for username in ("archivist", "marketing", "witness"):
        auth = login_as(app, username)
        html = auth.get("/").get_data(as_text=True)
        assert 'id="customer-search"' not in html
        response = auth.client.post("/search/suggest", data={"q": "zw"},
                                    headers={"HX-Request": "true", "X-CSRFToken": csrf_token_from(html)})
        assert response.status_code == 403, username


def test_search_without_csrf_token_is_refused(app, customers):
    auth = login_as(app, "clerk")
    assert auth.client.post("/search/suggest", data={"q": "zw"}, headers={"HX-Request": "true"}).status_code == 400


def test_search_is_audited_with_the_key_type_and_never_the_value(app, customers):
    auth = login_as(app, "clerk")
    suggest(auth, ID_ZHANG)
    suggest(auth, MOBILE)
    suggest(auth, "张伟")
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.search")
                                         .order_by(AuditEvent.id)))
        assert [e.detail["key_type"] for e in events] == ["id", "mobile", "name"]
        assert [e.detail["hits"] for e in events] == [1, 1, 2]  # 张伟 and 张伟民
        assert all(e.actor_name == "clerk" for e in events)
        dumped = repr([(e.object_id, e.detail) for e in events])
        assert ID_ZHANG not in dumped and MOBILE not in dumped and "张伟" not in dumped


def test_a_partial_number_gets_a_chinese_hint_not_a_search(app, customers):
    body = suggest(login_as(app, "clerk"), "139123").get_data(as_text=True)
    assert "号码需输入完整" in body and 'href="/customers/' not in body


def test_the_header_box_posts_and_no_url_carries_the_query(app, customers):
    auth = login_as(app, "clerk")
    page = page_of(auth.get("/customers/"))
    box = next(i for i in page.inputs if i.get("id") == "customer-search")
    assert box["hx-post"] == "/search/suggest" and box["role"] == "combobox"
    response = suggest(auth, ID_ZHANG)
    assert all(ID_ZHANG not in url and MOBILE not in url for url in page_of(response).urls)


def test_results_page_pages_by_keyset_without_repeats(app):
    with app.app_context():
        for i in range(45):
            add_customer(f"C0101200{i:03d}", "张" + "一二三四五六七八九十"[i % 10] + "伟"[: i % 2],
                         factories.make_id("110105", "19800101", f"{i:03d}"))
        db.session.commit()
    auth = login_as(app, "clerk")
    html = auth.get("/search/results").get_data(as_text=True)
    seen, data = [], {"q": "zh", "csrf_token": csrf_token_from(html)}
    for _ in range(5):
        posted = auth.client.post("/search/results", data=data)
        assert posted.status_code == 303
        assert re.fullmatch(r"/search/results\?s=[A-Za-z0-9_-]{16,32}", posted.headers["Location"])
        response = auth.client.get(posted.headers["Location"])
        assert response.status_code == 200
        page = page_of(response)
        seen += [n for n in customer_nos(response)]
        if not any(i.get("name") == "after_id" for i in page.inputs):
            break
        data = {i["name"]: i.get("value", "") for i in page.inputs if i.get("name")}
        assert "zh" == data["q"]
    assert len(seen) == len(set(seen)) == 46  # and the demo's 张建国


def test_results_page_refuses_a_bad_query_next_to_the_field(app, customers):
    auth = login_as(app, "clerk")
    html = auth.get("/search/results").get_data(as_text=True)
    response = auth.client.post("/search/results", data={"q": "1391", "csrf_token": csrf_token_from(html)})
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("q") and next(i for i in page.inputs if i.get("id") == "q")["value"] == "1391"


def test_keys_are_rebuilt_when_a_profile_version_is_added(app, customers):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == "C0101100004"))
        profile = customer.profile
        customer_services.add_profile_version(customer, {"name": "解晓冬", "id_type": profile.id_type,
                                                         "id_number": profile.id_number, "mobile": "13800001111"},
                                              source="change", actor=None)
        db.session.commit()
        values = set(db.session.scalars(select(CustomerSearchKey.value).where(CustomerSearchKey.customer_id == customer.id)))
        assert "解晓冬" in values and "解晓东" not in values
    auth = login_as(app, "clerk")
    assert "C0101100004" in customer_nos(suggest(auth, "13800001111"))
    assert "C0101100004" not in customer_nos(suggest(auth, "解晓东"))


def test_reindex_command_rebuilds_the_keys(app, customers):
    with app.app_context():
        db.session.execute(CustomerSearchKey.__table__.delete())
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["customers", "reindex"])
    assert result.exit_code == 0 and "rebuilt the search keys of" in result.output
    assert "C0101100001" in customer_nos(suggest(login_as(app, "clerk"), "zw"))
