"""Helpers for the CRUD API tests: a client bound to one organization's token."""
from __future__ import annotations

import pytest

BASE = "/api/v1/crm"


class Api:
    def __init__(self, client, headers: dict) -> None:
        self.client, self.headers = client, headers

    def get(self, path: str, **params):
        return self.client.get(BASE + path, headers=self.headers, query_string=params)

    def post(self, path: str, body):
        return self.client.post(BASE + path, headers=self.headers, json=body)

    def patch(self, path: str, body):
        return self.client.patch(BASE + path, headers=self.headers, json=body)

    def delete(self, path: str):
        return self.client.delete(BASE + path, headers=self.headers)

    def create(self, plural: str, body: dict) -> dict:
        resp = self.post(f"/{plural}", body)
        assert resp.status_code == 201, resp.json
        return resp.json

    def walk(self, path: str, **params) -> list[dict]:
        """Every item of a list, following `next` until it is null."""
        items, cursor = [], None
        for _ in range(1000):
            query = dict(params, **({"cursor": cursor} if cursor else {}))
            resp = self.get(path, **query)
            assert resp.status_code == 200, resp.json
            items += resp.json["items"]
            cursor = resp.json["next"]
            if cursor is None:
                return items
        raise AssertionError("pagination never ended")


@pytest.fixture
def api(client, org) -> Api:
    return Api(client, org["headers"])


@pytest.fixture
def other_api(client, other_org) -> Api:
    return Api(client, other_org["headers"])
