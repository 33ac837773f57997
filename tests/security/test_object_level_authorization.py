"""API1 broken object-level authorization: another organization's objects do not exist for you.

For every /api/v1 route with a path id, every method, and every form of id (uuid, public_id; an
import and an export job for job routes): the answer for another tenant's object is a 404 whose
body equals the one for an id that exists nowhere, nothing of the victim leaks into it, and the
victim's rows are unchanged afterwards.
"""
from __future__ import annotations

import pytest

from shared.entities import BY_NAME
from shared.ids import PREFIXES, mint_public_id, uuid7
from tests.security import routes
from tests.security.seed import Owned, seed_organization, snapshot


# A body each mutating method may carry, so the request is otherwise valid and only the id is
# wrong (a 422 for a bad body would hide whether the id was looked up).
def body_for(method: str, kind: str) -> dict | None:
    if method == "PATCH":
        return {"external_id": "probe"} if kind in BY_NAME else {"name": "probe"}
    return {"name": "probe"} if method in ("POST", "PUT") else None


@pytest.fixture
def victim(other_org) -> Owned:
    return seed_organization(other_org["organization_id"])


def id_forms(owned: Owned, kind: str) -> list[tuple[str, str, str]]:
    """(label, the victim's id, an id of the same form that exists nowhere)."""
    if kind == "job":
        return [("import job", str(owned.id("job")), str(uuid7())),
                ("export job", str(owned.id("export_job")), str(uuid7()))]
    forms = [("uuid", str(owned.id(kind)), str(uuid7()))]
    if kind in PREFIXES:
        forms.append(("public_id", owned.public_id(kind), mint_public_id(kind)))
    return forms


def _normalized(resp, value: str) -> str:
    return resp.get_data(as_text=True).replace(value, "<id>")


def test_other_tenants_ids_answer_404_like_nonexistent_ones(app, client, org, victim):
    before = snapshot(victim.organization_id)
    probed, failures = 0, []
    for route in routes.api_routes(app):
        if not route.args:
            continue
        for arg, kind in route.args.items():
            for label, theirs, nowhere in id_forms(victim, kind):
                # the other path arguments name the victim's objects too (uuid form)
                base = {a: str(victim.id(k)) for a, k in route.args.items()}
                for method in route.methods:
                    url_theirs = routes.build_url(app, route, base | {arg: theirs})
                    url_nowhere = routes.build_url(app, route, base | {arg: nowhere})
                    body = body_for(method, kind)
                    a = client.open(url_theirs, method=method, headers=org["headers"], json=body)
                    b = client.open(url_nowhere, method=method, headers=org["headers"], json=body)
                    probed += 1
                    where = f"{method} {route.rule} [{arg}={label}]"
                    if a.status_code != 404 or b.status_code != 404:
                        failures.append(f"{where}: {a.status_code} / nonexistent {b.status_code}")
                    elif _normalized(a, theirs) != _normalized(b, nowhere):
                        failures.append(f"{where}: body differs from a nonexistent id's: "
                                        f"{a.get_data(as_text=True)!r}")
                    elif victim.marker in a.get_data(as_text=True):
                        failures.append(f"{where}: leaks the victim's data")
    assert failures == []
    assert snapshot(victim.organization_id) == before
    if any(r.args for r in routes.api_routes(app)):
        assert probed > 0
