"""Concurrent card moves in one column: no errors, positions end dense and unique."""
from __future__ import annotations

import threading

from tests.api.conftest import Api


def test_concurrent_moves_keep_positions_dense(app, api):
    cards = [api.create("opportunities", {"name": f"C{i}", "stage_position": i})
             for i in range(6)]
    statuses: list[int] = []
    lock = threading.Lock()

    def mover(offset: int) -> None:
        client = Api(app.test_client(), api.headers)
        for step in range(6):
            card = cards[(offset + step) % len(cards)]
            resp = client.patch(f"/opportunities/{card['id']}",
                                {"stage_position": (offset * 7 + step) % 4,
                                 "name": f"moved {offset}-{step}"})
            with lock:
                statuses.append(resp.status_code)

    threads = [threading.Thread(target=mover, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * 24
    positions = sorted(r["stage_position"] for r in api.walk("/opportunities"))
    assert positions == list(range(6))
