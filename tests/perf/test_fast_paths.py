"""The faster paths of issue 6 give the same answers as the slow ones they replaced."""
from __future__ import annotations

import pytest

from shared.fields import FieldError, _json_object
from shared.jobs import runner as job_runner
from tests.bundles.helpers import bundle, rows, scalar
from tests.bundles.test_import_service import LocalQueue, _job, _submit


@pytest.mark.parametrize("value", [
    {"x": "bad\u0000byte"}, {"ke\u0000y": 1}, {"a": [1, {"b": ["\u0000"]}]},
    {"big": 10**30, "x": "\u0000"},  # orjson cannot write the integer: the walk decides
])
def test_nul_anywhere_in_a_json_object_is_refused(value):
    with pytest.raises(FieldError):
        _json_object(value)


@pytest.mark.parametrize("value", [
    {"path": "C:\\u0000dir"},  # the six characters backslash-u-0-0-0-0, not a NUL
    {"big": 10**30, "nested": {"list": [1.5, None, True]}},
])
def test_text_that_only_looks_like_nul_is_kept(value):
    assert _json_object(value) == value


def test_reimport_events_point_at_the_stored_rows(org, fresh_settings):
    """Unchanged rows are found by the per-row probe that replaced the table join."""
    body = bundle(accounts=[{"public_id": f"acct_p{i}", "name": f"A {i}"} for i in range(3)],
                  contacts=[{"public_id": "cnt_p0", "first_name": "Ada",
                             "account_public_id": "acct_p1"}])
    body_changed = bundle(accounts=[{"public_id": "acct_p0", "name": "A 0"},
                                    {"public_id": "acct_p1", "name": "renamed"},
                                    {"public_id": "acct_p2", "name": "A 2"}])
    job_ids = []
    for payload in (body, body_changed):
        queue = LocalQueue()
        job_id = _submit(org, payload, queue)
        job_runner.run_job(job_id, queue)
        queue.drain()
        job_ids.append(job_id)
    assert _job(org, job_ids[1])["progress"]["accounts"] == {
        "total": 3, "processed": 3, "created": 0, "updated": 1, "unchanged": 2, "failed": 0}
    stored = {r["public_id"]: str(r["id"]) for r in rows(org, "accounts")}
    events = scalar(org, "SELECT json_agg(json_build_object('p', public_id, 'id', record_id, "
                         "'o', changes->>'outcome') ORDER BY public_id) FROM crm.change_events "
                         "WHERE organization_id = :org AND job_id = :job", job=job_ids[1])
    assert events == [{"p": p, "id": stored[p], "o": o} for p, o in
                      (("acct_p0", "unchanged"), ("acct_p1", "updated"), ("acct_p2", "unchanged"))]
