"""Tag every log line of a task with its Celery task id and, for job tasks, the job id.

Job tasks take the job id as their first argument (or `job_id=`), so the tagging needs nothing
from the task body; a task that also knows the organization can add it with
shared.logging_setup.job_log_context(job_id, org_id).
"""
from __future__ import annotations

from celery.signals import task_postrun, task_prerun

from shared.logging_setup import log_context

JOB_TASK_PREFIXES = ("drippulse.import.", "drippulse.export.")
_tokens: dict[str, object] = {}


@task_prerun.connect
def _bind(task_id: str | None = None, task=None, args=None, kwargs=None, **_extra) -> None:
    context = {**(log_context.get() or {}), "task_id": task_id}
    name = getattr(task, "name", "") or ""
    if name.startswith(JOB_TASK_PREFIXES):
        job_id = (kwargs or {}).get("job_id") or (args[0] if args else None)
        if job_id is not None:
            context["job_id"] = str(job_id)
    _tokens[task_id] = log_context.set(context)


@task_postrun.connect
def _unbind(task_id: str | None = None, **_extra) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        try:
            log_context.reset(token)
        except ValueError:  # set in another context; leave it
            pass
