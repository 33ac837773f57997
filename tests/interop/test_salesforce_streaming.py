"""A Salesforce export converts in bounded memory, whatever its size: rows are streamed."""
from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from shared.interop.files import DirectorySourceFiles
from shared.interop.salesforce import convert
from shared.interop.source import ROW_ERROR, Report

PADDING = "x" * 150
MAX_PEAK_BYTES = 2 * 1024 * 1024


def _peak_while_converting(root: Path) -> tuple[int, int]:
    """(rows converted, peak traced memory) without keeping any row."""
    tracemalloc.start()
    try:
        count = 0
        for converted in convert(DirectorySourceFiles(root), Report(), {}):
            assert ROW_ERROR not in converted.row
            count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_bulk_csv_converts_in_bounded_memory(tmp_path: Path) -> None:
    rows = 25_000
    with open(tmp_path / "Contact.csv", "w", encoding="utf-8", newline="") as f:
        f.write('"Id","LastName","Email","AccountId","Notes__c"\n')
        for i in range(rows):
            f.write(f'"003{i:012d}","Name {i}","p{i}@example.com","001{i:012d}","{PADDING}"\n')
    size = (tmp_path / "Contact.csv").stat().st_size
    count, peak = _peak_while_converting(tmp_path)
    assert count == rows
    assert size > 2 * MAX_PEAK_BYTES
    assert peak < MAX_PEAK_BYTES


def _tree_records(count: int) -> Iterator[str]:
    for i in range(count):
        yield json.dumps({"attributes": {"type": "Account", "referenceId": f"AccountRef{i}"},
                          "Name": f"Account {i}", "Description": PADDING,
                          "ParentId": f"@AccountRef{i + 1}"})


def test_a_large_tree_file_converts_in_bounded_memory(tmp_path: Path) -> None:
    records = 25_000
    with open(tmp_path / "Accounts.json", "w", encoding="utf-8") as f:
        f.write('{"records": [')
        for i, record in enumerate(_tree_records(records)):
            f.write(("," if i else "") + record)
        f.write("]}")
    size = (tmp_path / "Accounts.json").stat().st_size
    count, peak = _peak_while_converting(tmp_path)
    assert count == records
    assert size > 2 * MAX_PEAK_BYTES
    assert peak < MAX_PEAK_BYTES
