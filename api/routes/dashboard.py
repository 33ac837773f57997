"""Dashboard pages. Each is a server-rendered shell; its script reads and writes data through
the JSON API (/api/v1/crm) with the session cookie, so there is one implementation of CRUD."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, g, redirect, render_template, request, send_file, url_for

from api import dashboard_meta, session_auth
from shared.entities import BY_PLURAL
from shared.errors import NotFound
from shared.urls import CRM_API

bp = Blueprint("dashboard", __name__, url_prefix="/app")

_FAVICON = Path(__file__).resolve().parents[1] / "static" / "dashboard" / "favicon.svg"


def favicon():
    """Browsers ask for /favicon.ico whatever the page links; answering it keeps the console of
    every page (and the access log) free of 404s. No sign-in: it is the same for everyone."""
    return send_file(_FAVICON, mimetype="image/svg+xml", max_age=86400)


# An app-wide URL (outside /app, so the sign-in hook below does not apply), kept with the
# dashboard it belongs to rather than in the app factory.
bp.record_once(lambda state: state.app.add_url_rule("/favicon.ico", "favicon", favicon))


@bp.before_request
def require_sign_in():
    g.user = session_auth.current_user()
    if g.user is None:
        session_auth.sign_out()
        return redirect(url_for("dashboard_auth.login", next=request.full_path.rstrip("?")))
    return None


def _page(template: str, title: str, active: str, **data):
    """Render a page; `data` reaches the page's script as JSON (no inline script, strict CSP)."""
    return render_page(template, title, active, **data)


def render_page(template: str, title: str, active: str, *, context: dict | None = None,
                **data) -> str:
    """A page in the app shell for the signed-in `g.user` (also used by the HTML error pages):
    `context` goes to the template, `data` to the page's script."""
    page_data = {"api": CRM_API, "entities": dashboard_meta.all_meta(), **data}
    return render_template(f"dashboard/{template}", **(context or {}), title=title,
                           active=active, user=g.user,
                           sidebar=[(p, dashboard_meta.all_meta()[p]["label"])
                                    for p in dashboard_meta.SIDEBAR],
                           csrf_token=session_auth.csrf_token(), page_data=page_data)


def _entity(plural: str) -> dict:
    meta = dashboard_meta.all_meta().get(plural)
    if meta is None:
        raise NotFound(f"No such CRM section: {plural}")
    return meta


@bp.get("/")
def home():
    return redirect(url_for("dashboard.records", plural="opportunities"))


@bp.get("/crm/<plural>")
def records(plural: str):
    meta = _entity(plural)
    if BY_PLURAL[plural].stage_placement:  # its rows sit on stages: the board page
        return _page("opportunities.html", meta["label"], plural, entity=plural)
    return _page("records.html", meta["label"], plural, entity=plural)


@bp.get("/crm/<plural>/new")
def new_record(plural: str):
    meta = _entity(plural)
    return _page("record_form.html", f"New {meta['name']}", plural, entity=plural,
                 record_id=None, prefill=request.args.to_dict())


@bp.get("/crm/<plural>/<record_id>")
def record_detail(plural: str, record_id: str):
    meta = _entity(plural)
    return _page("record_detail.html", meta["singular_label"], plural, entity=plural,
                 record_id=record_id)


@bp.get("/crm/<plural>/<record_id>/edit")
def edit_record(plural: str, record_id: str):
    meta = _entity(plural)
    return _page("record_form.html", f"Edit {meta['name']}", plural, entity=plural,
                 record_id=record_id, prefill={})


@bp.get("/import-export")
def import_export():
    return _page("import_export.html", "Import & export", "import-export")


@bp.get("/import-export/wizard")
def import_wizard():
    return _page("import_wizard.html", "Import wizard", "import-wizard",
                 mapping_targets=dashboard_meta.import_wizard_targets())


@bp.get("/jobs")
def jobs():
    return _page("jobs.html", "Jobs", "jobs")


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    # The page's script fetches the job through the API, so another organization's job (or an
    # unknown id) says "not found" there, exactly like a record's page.
    return _page("job.html", "Job", "jobs", job_id=job_id)


@bp.get("/crm/settings/webhooks")
def webhooks():
    return _page("webhooks.html", "Webhooks", "webhooks")


@bp.get("/crm/settings/pipelines")
def pipelines():
    return _page("pipelines.html", "Pipelines", "pipelines")


@bp.get("/changes")
def changes():
    return _page("changes.html", "Change history", "changes",
                 filters={"record_type": request.args.get("record_type", ""),
                          "record_id": request.args.get("record_id", "")})
