"""Temporary `.part` files of a killed writer are removed by retention after a day (issue 19,
Low); a fresh one, possibly still being written, stays."""
from __future__ import annotations

import os
import time

from shared.services import retention
from shared.storage import get_storage


def test_retention_removes_stale_part_files(settings):
    root = settings.storage_dir / "uploads" / "deadbeef"
    root.mkdir(parents=True, exist_ok=True)
    stale = root / ".upload.json.0123456789abcdef.part"
    fresh = root / ".upload.json.fedcba9876543210.part"
    kept = root / "upload.json"
    for path in (stale, fresh, kept):
        path.write_bytes(b"{}")
    old = time.time() - retention.PART_MAX_AGE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(kept, (old, old))  # a job's file: retention goes by its job, never by its age
    assert get_storage().exists("uploads/deadbeef/upload.json")
    result = retention.cleanup()
    assert not stale.exists()
    assert fresh.exists() and kept.exists()
    assert result["files"] >= 1
