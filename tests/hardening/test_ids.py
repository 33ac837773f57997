"""uuid7 is creation order within a process: the export's "rows leave in creation order" and
keyset pagination depend on it (ids of one millisecond used to be in random order)."""
from __future__ import annotations

from shared.ids import uuid7


def test_uuid7_is_strictly_increasing_and_well_formed():
    ids = [uuid7() for _ in range(5000)]  # many share a millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {u.version for u in ids} == {7}
    assert {u.variant for u in ids} == {"specified in RFC 4122"}
