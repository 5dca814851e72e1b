"""Grading's background jobs: an uploaded file's import, and recomputing every customer's grade."""
from blueprints.auth.models import Staff
from blueprints.grading import imports, services
from core import jobs
from core.extensions import db

IMPORT, RECOMPUTE = "grading.import", "grading.recompute"


def _import_failed(params: dict, message: str) -> None:
    imports.import_failed(params["import_job_id"], message)


@jobs.kind(IMPORT, "数据导入", on_failed=_import_failed)
def run_import(context: jobs.Context) -> dict:
    """Check and swap in the file (imports.run_import, which records its own outcome on the import);
    taken up again after a worker died, it starts the file over."""
    imports.run_import(context.params["import_job_id"])
    return {"import_job_id": context.params["import_job_id"]}


def _describe_recompute(job: jobs.Job) -> str:
    result = job.result or {}
    if not result.get("day"):
        return "尚无行情数据（交易日历为空），无法估值；请先导入证券日行情。"
    return f"已按 {result['day']} 估值重新计算 {result['customers']} 位客户的级别，其中 {result['changed']} 位级别变化。"


@jobs.kind(RECOMPUTE, "重新计算客户级别", describe=_describe_recompute,
           warns=lambda job: not (job.result or {}).get("day"))
def recompute(context: jobs.Context) -> dict:
    """Value and grade every customer, a chunk per transaction; a retry recomputes from the start (the same result)."""
    actor = db.session.get(Staff, context.requested_by_id) if context.requested_by_id else None
    summary = services.recompute(actor=actor, trigger="manual", commit_each_chunk=True, progress=context.progress)
    return {"day": str(summary.day) if summary.day else None, "customers": summary.customers,
            "changed": summary.changed}
