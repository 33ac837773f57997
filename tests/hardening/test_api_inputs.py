"""Inputs found by fuzzing the HTTP API (schemathesis): each used to answer 500 or leave data
that could not be exported and imported back. Now a 422 naming the field."""
from __future__ import annotations

import pytest

CRM = "/api/v1/crm"


def _post(client, org, plural: str, raw: bytes):
    return client.post(f"{CRM}/{plural}", data=raw, content_type="application/json",
                       headers=org["headers"])


def _nested(depth: int) -> bytes:
    return b'{"n": ' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("plural, raw, field", [
    # an unpaired UTF-16 surrogate cannot be encoded for Postgres (was UnicodeEncodeError, 500)
    ("accounts", b'{"name": "a\\ud800b"}', "name"),
    ("contacts", b'{"account_public_id": "acct_\\udfff"}', "account_public_id"),
    ("opportunities", b'{"name": "o", "pipeline_stage_id": "\\ud800"}', "pipeline_stage_id"),
    ("leads", b'{"custom_fields": {"k\\ud800": 1}}', "custom_fields"),
    # json reads 1e400 as infinity, which jsonb refuses
    ("leads", b'{"custom_fields": {"x": 1e400}}', "custom_fields"),
    # deeper than the exporter and importer can carry (orjson stops at 255 levels)
    ("leads", b'{"custom_fields": ' + _nested(33) + b"}", "custom_fields"),
])
def test_unstorable_values_are_422(client, org, plural, raw, field):
    resp = _post(client, org, plural, raw)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["details"]


def test_values_at_the_limits_are_stored(client, org):
    resp = _post(client, org, "leads", b'{"first_name": "\\ud83d\\ude80 \\u6771", "custom_fields": '
                 + _nested(32) + b', "status": "x"}')
    assert resp.status_code == 201, resp.json
    assert resp.json["first_name"] == "🚀 東"


def test_patch_with_a_surrogate_is_422(client, org):
    row = _post(client, org, "accounts", b'{"name": "ok"}').json
    resp = client.patch(f"{CRM}/accounts/{row['id']}", data=b'{"website": "\\udc00"}',
                        content_type="application/json", headers=org["headers"])
    assert resp.status_code == 422 and "website" in resp.json["error"]["details"]


@pytest.mark.parametrize("path, raw", [
    # found by schemathesis: a NUL in a stage name reached the INSERT (DataError, 500)
    ("/pipelines", b'{"name": "P", "stages": [{"name": "a\\u0000b"}]}'),
    ("/pipelines", b'{"name": "\\ud800"}'),
])
def test_pipeline_names_postgres_cannot_store_are_422(client, org, path, raw):
    resp = client.post(CRM + path, data=raw, content_type="application/json",
                       headers=org["headers"])
    assert resp.status_code == 422, resp.json
    pipeline = client.get(f"{CRM}/pipelines", headers=org["headers"]).json["items"][0]
    resp = client.post(f"{CRM}/pipelines/{pipeline['id']}/stages", data=b'{"name": "x\\u0000"}',
                       content_type="application/json", headers=org["headers"])
    assert resp.status_code == 422 and "name" in resp.json["error"]["details"]


def test_a_value_the_database_refuses_is_422_not_500(client, org, monkeypatch):
    """The error layer's net under validation: a DataError is the request's fault."""
    import psycopg
    import sqlalchemy as sa

    from shared.services import records

    def refuse(*_args, **_kwargs):
        raise sa.exc.DataError("INSERT ...", {}, psycopg.DataError("value out of range"))

    monkeypatch.setattr(records, "create", refuse)
    resp = _post(client, org, "leads", b'{"first_name": "x"}')
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_value"
    assert "INSERT" not in resp.json["error"]["message"]
