"""Every /api/v1 route, classified: which kind of object each path argument names.

The security tests walk the app's URL map. A route missing from this table fails
`test_every_api_route_is_classified`, so a new route cannot ship without its tenancy and auth
probes. Kinds: an entity name (account, contact, ...), pipeline, stage, job, export_job,
webhook, webhook_delivery, saved_mapping.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask

from shared.entities import ENTITIES

API = "/api/v1/"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    rule: str  # converters stripped: /api/v1/crm/accounts/<record_id>
    endpoint: str
    methods: tuple[str, ...]
    args: dict[str, str] = field(default_factory=dict)  # path argument -> kind
    params: tuple[str, ...] = ()  # every path argument, classified or not


def _records() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for e in ENTITIES:
        table[f"/api/v1/crm/{e.plural}"] = {}
        table[f"/api/v1/crm/{e.plural}/<record_id>"] = {"record_id": e.name}
    return table


# Routes and the kind of object each path argument names ({} = no path argument).
CLASSIFIED: dict[str, dict[str, str]] = {
    "/api/v1/me": {},
    **_records(),
    "/api/v1/crm/change_events": {},
    "/api/v1/crm/pipelines": {},
    "/api/v1/crm/pipelines/<pipeline_id>": {"pipeline_id": "pipeline"},
    "/api/v1/crm/pipelines/<pipeline_id>/stages": {"pipeline_id": "pipeline"},
    "/api/v1/crm/pipelines/<pipeline_id>/stages/<stage_id>": {"pipeline_id": "pipeline",
                                                              "stage_id": "stage"},
    "/api/v1/crm/pipelines/<pipeline_id>/board": {"pipeline_id": "pipeline"},
    "/api/v1/crm/export": {},
    "/api/v1/crm/exports": {},
    "/api/v1/crm/import": {},
    "/api/v1/crm/jobs": {},
    "/api/v1/crm/jobs/<job_id>": {"job_id": "job"},
    "/api/v1/crm/jobs/<job_id>/errors": {"job_id": "job"},
    "/api/v1/crm/jobs/<job_id>/cancel": {"job_id": "job"},
    "/api/v1/crm/jobs/<job_id>/retry": {"job_id": "job"},
    "/api/v1/crm/jobs/<job_id>/revert": {"job_id": "job"},
    "/api/v1/crm/jobs/<job_id>/download": {"job_id": "export_job"},
    "/api/v1/crm/jobs/<job_id>/events": {"job_id": "job"},
    "/api/v1/crm/webhooks": {},
    "/api/v1/crm/webhooks/<webhook_id>": {"webhook_id": "webhook"},
    "/api/v1/crm/webhooks/<webhook_id>/deliveries": {"webhook_id": "webhook"},
    "/api/v1/crm/webhooks/deliveries/<delivery_id>/resend": {"delivery_id": "webhook_delivery"},
    "/api/v1/crm/mappings": {},
    "/api/v1/crm/mappings/<mapping_id>": {"mapping_id": "saved_mapping"},
}

# Routes that answer without credentials, on purpose (and hold no tenant data).
PUBLIC = {"/api/v1/openapi.json"}

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def plain(rule: str) -> str:
    return _CONVERTER.sub(r"<\1>", rule)


def api_routes(app: Flask) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API):
            continue
        methods = tuple(sorted((rule.methods or set()) - IGNORED_METHODS))
        path = plain(rule.rule)
        routes.append(Route(path, rule.endpoint, methods, dict(CLASSIFIED.get(path, {})),
                            tuple(_CONVERTER.findall(rule.rule))))
    return sorted(routes, key=lambda r: (r.rule, r.methods))


def unclassified(app: Flask) -> list[str]:
    known = CLASSIFIED.keys() | PUBLIC
    return [r.rule for r in api_routes(app) if r.rule not in known
            or set(CLASSIFIED.get(r.rule, {})) != set(_CONVERTER.findall(r.rule))]


def stale_classifications(app: Flask) -> list[str]:
    """Classified or public routes the app no longer has: a probe list that silently shrank
    would let the security tests pass while checking nothing for the removed route."""
    present = {r.rule for r in api_routes(app)}
    return sorted((CLASSIFIED.keys() | PUBLIC) - present)


def protected_routes(app: Flask) -> list[Route]:
    return [r for r in api_routes(app) if r.rule not in PUBLIC]


def build_url(app: Flask, route: Route, values: dict[str, str], query: str = "") -> str:
    adapter = app.url_map.bind("localhost")
    url = adapter.build(route.endpoint, values, method=route.methods[0])
    return url + (f"?{query}" if query else "")


def require(app: Flask, *rules: str) -> None:
    """Fail when a route this test probes is not in the app: a removed or renamed route must
    not turn its security checks into silent skips."""
    import pytest

    present = {r.rule for r in api_routes(app)}
    missing = [r for r in rules if r not in present]
    if missing:
        pytest.fail(f"routes this test probes are missing from the app: {missing}")
