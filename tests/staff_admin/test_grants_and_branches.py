"""HQ's grants (总部赋权) enforced on requests and reviewed by the branch; branches kept by HQ."""
from sqlalchemy import select

from blueprints.staff_admin.models import BusinessGrant
from core.extensions import db
from tests.requests.helpers import login_as, page_of
from tests.staff_admin.helpers import audits, branch_id, staff


def _grant(app, code, business, role="*"):
    with app.app_context():
        grant = db.session.scalar(select(BusinessGrant).filter_by(branch_id=branch_id(app, code), business=business,
                                                                  role=role))
        db.session.expunge_all()
        return grant


def _withdraw(admin, app, code, business, reason="暂停该业务"):
    grant = _grant(app, code, business)
    return admin.post(f"/staff-admin/grants/{grant.id}/withdraw", data={"version": grant.version, "reason": reason})


def test_a_withdrawn_grant_refuses_the_business_and_giving_it_again_allows_it(app):
    clerk = login_as(app, "clerk")
    assert clerk.get("/opening/").status_code == 200
    admin = login_as(app, "admin")
    assert _withdraw(admin, app, "0101", "opening").status_code == 303
    refused = clerk.get("/opening/")
    assert refused.status_code == 403
    assert "本营业部未获总部赋权办理“现场开户”业务" in refused.get_data(as_text=True)
    assert login_as(app, "clerk_sh").get("/opening/").status_code == 200  # another branch keeps it
    assert audits(app, "grant.refused")[-1].object_id == "opening"
    assert admin.post(f"/staff-admin/grants/{branch_id(app, '0101')}/give",
                      data={"business": "opening", "role": "*", "reason": "恢复现场开户"}).status_code == 303
    assert clerk.get("/opening/").status_code == 200


def test_a_grant_to_one_role_lets_that_role_in_and_not_the_others(app):
    admin = login_as(app, "admin")
    assert _withdraw(admin, app, "0101", "return_visit").status_code == 303
    assert admin.post(f"/staff-admin/grants/{branch_id(app, '0101')}/give",
                      data={"business": "return_visit", "role": "return_visit", "reason": "仅回访岗办理"}).status_code == 303
    assert login_as(app, "visitor").get("/return-visits/").status_code == 200
    assert login_as(app, "manager").get("/return-visits/escalated").status_code == 403


def test_withdrawing_the_witness_opening_refuses_the_witness_step_only(app):
    admin = login_as(app, "admin")
    assert _withdraw(admin, app, "0101", "witness_opening").status_code == 303
    witness = login_as(app, "witness")
    assert witness.get("/opening/").status_code == 200
    assert witness.get("/opening/ANY-REF/step/witness").status_code == 403


def test_without_the_witness_grant_a_witness_channel_draft_cannot_be_started_and_onsite_still_can(app):
    from blueprints.opening.models import Application

    admin = login_as(app, "admin")
    assert _withdraw(admin, app, "0101", "witness_opening").status_code == 303
    clerk = login_as(app, "clerk")
    refused = clerk.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": "w1"})
    assert refused.status_code == 422
    assert page_of(refused).errors_for("channel") == [
        "本营业部未获总部赋权办理“见证开户”业务，请选择现场开户或联系总部管理员"]
    assert page_of(refused).checked("customer_type") == ["individual"]  # the other choice kept
    with app.app_context():
        assert db.session.scalar(select(Application)) is None
    started = clerk.post("/opening/new", {"channel": "onsite", "customer_type": "individual", "client_token": "w2"})
    assert started.status_code == 303
    with app.app_context():
        reference = db.session.scalar(select(Application.reference))
    switched = clerk.post(f"/opening/{reference}/step/channel", {"channel": "witness", "customer_type": "individual"})
    assert switched.status_code == 422 and "见证开户" in page_of(switched).errors_for("channel")[0]


def test_withdrawing_needs_a_reason_next_to_the_field_and_twice_does_it_once(app):
    admin = login_as(app, "admin")
    missing = _withdraw(admin, app, "0101", "closure", reason="")
    assert missing.status_code == 422
    assert "请填写撤回原因" in page_of(missing).all_errors()
    grant = _grant(app, "0101", "closure")
    data = {"version": grant.version, "reason": "暂停销户"}
    assert admin.post(f"/staff-admin/grants/{grant.id}/withdraw", data=data).status_code == 303
    assert admin.post(f"/staff-admin/grants/{grant.id}/withdraw", data=data).status_code == 303
    assert len(audits(app, "grant.withdraw")) == 1
    assert not _grant(app, "0101", "closure").active


def test_the_branch_manager_confirms_hqs_change_and_hq_cannot_confirm_for_them(app):
    admin = login_as(app, "admin")
    _withdraw(admin, app, "0101", "merges")
    grant = _grant(app, "0101", "merges")
    assert grant.reviewed_at is None
    assert admin.post(f"/staff-admin/grants/{grant.id}/review", data={"version": grant.version}).status_code == 403
    assert login_as(app, "clerk_sh").post(f"/staff-admin/grants/{grant.id}/review",
                                          data={"version": grant.version}).status_code == 403
    manager = login_as(app, "manager")
    page = manager.get("/staff-admin/grants").get_data(as_text=True)
    assert f'id="review-{grant.id}"' in page
    assert manager.post(f"/staff-admin/grants/{grant.id}/review", data={"version": grant.version - 1}).status_code == 409
    assert manager.post(f"/staff-admin/grants/{grant.id}/review", data={"version": grant.version}).status_code == 303
    reviewed = _grant(app, "0101", "merges")
    assert reviewed.reviewed_by_id == staff(app, "manager").id and reviewed.reviewed_at is not None


def test_a_branch_manager_sees_only_their_own_branchs_grants(app):
    html = login_as(app, "manager").get(f"/staff-admin/grants?branch={branch_id(app, '0201')}").get_data(as_text=True)
    assert "北京朝阳门营业部" in html and "上海浦东营业部" not in html


def test_giving_a_grant_needs_a_business_and_a_reason(app):
    admin = login_as(app, "admin")
    response = admin.post(f"/staff-admin/grants/{branch_id(app, '0101')}/give", data={"business": "", "role": "*",
                                                                                      "reason": ""})
    assert response.status_code == 422
    assert page_of(response).errors_for("business") == ["请选择业务"]
    assert page_of(response).errors_for("reason") == ["请填写赋权原因"]


# --- branches ---------------------------------------------------------------------------------

def test_hq_creates_a_branch_with_the_grants_it_chooses_and_edits_it(app):
    admin = login_as(app, "admin")
    assert admin.post("/staff-admin/branches/new", data={"code": "0301", "name": "广州天河营业部",
                                                         "businesses": ["opening", "review"], "reason": "新设"}).status_code == 303
    new_id = branch_id(app, "0301")
    with app.app_context():
        given = set(db.session.scalars(select(BusinessGrant.business).where(BusinessGrant.branch_id == new_id)))
    assert given == {"opening", "review"}
    duplicate = admin.post("/staff-admin/branches/new", data={"code": "0301", "name": "重复"}, htmx=True)
    assert duplicate.status_code == 422
    assert page_of(duplicate).errors_for("code") == ["营业部代码 0301 已被使用"]
    assert admin.post(f"/staff-admin/branches/{new_id}", data={"code": "0302", "name": "广州天河营业部"}).status_code == 303
    assert branch_id(app, "0302") == new_id


def test_a_branch_with_staff_or_customers_cannot_be_deleted_and_an_empty_one_can(app):
    admin = login_as(app, "admin")
    assert admin.post(f"/staff-admin/branches/{branch_id(app, '0201')}/delete").status_code == 409
    assert branch_id(app, "0201") is not None
    admin.post("/staff-admin/branches/new", data={"code": "0401", "name": "深圳营业部", "businesses": ["opening"],
                                                  "reason": "新设"})
    deleted = admin.post(f"/staff-admin/branches/{branch_id(app, '0401')}/delete")
    assert deleted.status_code == 303, deleted.get_data(as_text=True)
    assert branch_id(app, "0401") is None


def test_only_hq_keeps_branches(app):
    manager = login_as(app, "manager")
    assert manager.get("/staff-admin/branches").status_code == 403
    assert manager.post("/staff-admin/branches/new", data={"code": "0501", "name": "x"}).status_code == 403


def test_a_post_to_a_withdrawn_business_is_refused_and_the_refusal_is_kept_in_the_trail(app):
    admin = login_as(app, "admin")
    assert _withdraw(admin, app, "0101", "opening").status_code == 303
    clerk = login_as(app, "clerk")
    before = len(audits(app, "grant.refused"))
    response = clerk.post("/opening/new", data={"channel": "onsite"})
    assert response.status_code == 403
    assert "现场开户" in response.get_data(as_text=True)
    refused = audits(app, "grant.refused")
    assert len(refused) == before + 1 and refused[-1].detail["endpoint"] == "opening.new"
