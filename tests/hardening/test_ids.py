"""uuid7 is creation order within a process: the export's "rows leave in creation order" and
keyset pagination depend on it (ids of one millisecond used to be in random order)."""
from __future__ import annotations

import uuid

from shared.ids import uuid7, uuid7_texts, uuid7s


def test_uuid7_is_strictly_increasing_and_well_formed():
    ids = [uuid7() for _ in range(5000)]  # many share a millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {u.version for u in ids} == {7}
    assert {u.variant for u in ids} == {"specified in RFC 4122"}


def test_ids_minted_in_bulk_continue_the_same_order():
    ids = [uuid7(), *uuid7s(3000), uuid7(), *uuid7s(1), *uuid7s(0)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 3003
    assert {u.version for u in ids} == {7}
    assert {u.variant for u in ids} == {"specified in RFC 4122"}


def test_ids_minted_as_text_are_canonical_uuid7s_in_the_same_order():
    texts = uuid7_texts(2000)
    ids = [uuid.UUID(t) for t in texts]
    assert [str(u) for u in ids] == texts  # canonical: lower case, hyphenated
    assert ids == sorted(ids) and ids[-1] < uuid7()
    assert {u.version for u in ids} == {7}
