"""A background job's progress, polled by htmx from the page that queued it."""
from flask import Blueprint, abort, make_response
from flask_login import current_user

from blueprints.auth.models import Staff
from core import jobs
from core.extensions import db
from core.render import page
from core.roles import Role
from core.security import roles_required

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.route("/<int:job_id>")
@roles_required(*Role)
def status(job_id: int):
    """The job's progress block; once it has ended, the page hears `job-ended` and refreshes what depends on it.

    The staff of the branch of the person who queued it see it (HQ: every job)."""
    job = db.session.get(jobs.Job, job_id)
    if job is None or not _may_see(job):
        abort(404)
    response = make_response(page("jobs/_job.html", job=job, text=jobs.describe(job)))
    if job.ended:
        response.headers["HX-Trigger"] = "job-ended"
    return response


def _may_see(job: jobs.Job) -> bool:
    if current_user.sees_all_branches or job.requested_by_id == current_user.id:
        return True
    requester = db.session.get(Staff, job.requested_by_id) if job.requested_by_id else None
    return requester is not None and requester.branch_id == current_user.branch_id
