"""One public_id rule for the API and the import (issue 19, item 9): 1 to 64 characters of
A-Z a-z 0-9 _ . : - (safe in URLs, logs and CSV cells); a bundle row with another id is a row
error on `public_id`, the rest of the bundle imports."""
from __future__ import annotations

import pytest

from tests.hardening.helpers import job_errors, run_import

GOOD = ["acct_ok", "0015g00000XyZaBAAV", "hs.company:42-x", "a" * 64]
BAD = ["has space", "a" * 65, "acct/../x", "=cmd|' /C calc'!A0", "ünïcode", "line\nbreak"]


def test_bundle_public_ids_follow_the_api_rule(org):
    rows = [{"public_id": p, "name": f"row {i}"} for i, p in enumerate(GOOD + BAD)]
    job = run_import(org, {"version": 1, "accounts": rows})
    assert job["progress"]["accounts"]["created"] == len(GOOD)
    errors = job_errors(org, job["id"])
    assert sorted(e["index"] for e in errors) == list(range(len(GOOD), len(GOOD) + len(BAD)))
    assert {e["field"] for e in errors} == {"public_id"}


def test_a_trailing_newline_is_not_part_of_an_id(org):
    job = run_import(org, {"version": 1, "accounts": [{"public_id": "acct_nl\n", "name": "x"}]})
    assert job["progress"]["accounts"]["created"] == 0
    assert [e["field"] for e in job_errors(org, job["id"])] == ["public_id"]


@pytest.mark.parametrize("public_id", BAD)
def test_the_api_refuses_the_same_ids(client, org, public_id):
    resp = client.post("/api/v1/crm/accounts", headers=org["headers"],
                       json={"public_id": public_id, "name": "x"})
    assert resp.status_code == 422
