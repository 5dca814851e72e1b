"""The archive's background jobs: a dossier's next version, and a batch export of a branch's dossiers."""
from sqlalchemy.exc import IntegrityError

from blueprints.archive import services
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from core import jobs
from core.extensions import db
from core.pdf import pool
from core.pdf.renderer import DossierResourceMissing, DossierUnavailable

DOSSIER, EXPORT = "archive.dossier", "archive.export"
SAVE_ATTEMPTS = 3


def _refusal(error: Exception) -> jobs.JobFailed:
    if isinstance(error, DossierUnavailable):
        return jobs.JobFailed(str(error))
    return jobs.JobFailed("档案所引用的影像文件无法读取，请联系系统管理员。")


def describe_dossier(job: jobs.Job) -> str:
    return f"已生成档案第 {job.result['version']} 版（{job.result['pages']} 页）"


@jobs.kind(DOSSIER, "生成档案", describe=describe_dossier)
def generate_dossier(context: jobs.Context) -> dict:
    """Render the customer's next dossier version; saving it and finishing the job are one transaction,
    so an attempt that lost its lease saves nothing and a retry makes the one version."""
    customer = db.session.get(Customer, context.params["customer_id"])
    actor = db.session.get(Staff, context.requested_by_id)
    inputs = services.dossier_inputs(customer)
    try:
        request = services.render_request(inputs)
        db.session.commit()  # hold no database lock while the PDF renders
        data = pool.render(request)
    except (DossierUnavailable, DossierResourceMissing) as error:
        raise _refusal(error) from error
    for attempt in range(SAVE_ATTEMPTS):
        try:
            with db.session.begin_nested():
                dossier = services.save_dossier(inputs, data, actor)
            break
        except IntegrityError:  # another archivist's dossier took the version number meanwhile (PostgreSQL)
            if attempt == SAVE_ATTEMPTS - 1:
                raise
    return {"dossier_id": dossier.id, "version": dossier.version, "pages": dossier.pages}


def _export_failed(params: dict, message: str) -> None:
    services.export_failed(params["export_job_id"], message)


@jobs.kind(EXPORT, "档案批量导出", on_failed=_export_failed)
def export(context: jobs.Context) -> dict:
    """Build a batch export's zip (services.run_export), its progress on the export and on the job."""
    try:
        services.run_export(context.params["export_job_id"], progress=context.progress)
    except (DossierUnavailable, DossierResourceMissing) as error:
        raise _refusal(error) from error
    return {"export_job_id": context.params["export_job_id"]}

