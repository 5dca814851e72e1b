"""The confirmation slip of an approved change, printed by the job worker."""
from datetime import datetime

from blueprints.changes import services as changes
from blueprints.changes.models import CustomerChange
from blueprints.changes.slips import render_request
from core import jobs
from core.extensions import db
from core.pdf import pool
from core.pdf.renderer import DossierUnavailable

SLIP = "changes.slip"


def queue_slip(change: CustomerChange, slip: dict, actor) -> jobs.Job:
    """Queue the slip with what it prints as of the approval (the systems' states then, the masks applied)."""
    params = {"change_id": change.id, "slip": {**slip, "decided_at": slip["decided_at"].isoformat()}}
    return jobs.enqueue(SLIP, params, dedup_key=f"{SLIP}:{change.id}", subject=("customer_change", change.id),
                        requested_by=actor)


@jobs.kind(SLIP, "打印确认单", describe=lambda job: "确认单已生成，可以下载")
def print_slip(context: jobs.Context) -> dict:
    """Render and keep the slip; storing it and finishing the job are one transaction, so it is kept once."""
    change = db.session.get(CustomerChange, context.params["change_id"], with_for_update=True)
    if change.slip_sha256:
        return {"sha256": change.slip_sha256}
    slip = dict(context.params["slip"], decided_at=datetime.fromisoformat(context.params["slip"]["decided_at"]))
    db.session.commit()  # hold no lock while it renders
    try:
        data = pool.render(render_request(slip))
    except DossierUnavailable as error:
        raise jobs.JobFailed(str(error)) from error
    change = db.session.get(CustomerChange, context.params["change_id"], with_for_update=True)
    if not change.slip_sha256:
        changes.store_slip(change, data)
    return {"sha256": change.slip_sha256}
