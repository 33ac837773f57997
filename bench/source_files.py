"""The rows of the source benchmark (bench/source_run.py) and the forms they are written in,
each streamed to disk one row at a time (memory stays flat at any row count):

- a CSV zip with its mapping (`?source=csv`): accounts.csv, contacts.csv, mapping.json;
- a Salesforce Bulk API / Data Loader export zip (`?source=salesforce`): Account.csv and
  Contact.csv with Salesforce headers and 18-character ids;
- a JSON bundle with public_ids (the path both are compared with).

Rows: 10% accounts, 90% contacts, each contact pointing at an account — by the account's
external id in the CSV files (the converters' reference path), by public_id in the bundle.
"""
from __future__ import annotations

import csv
import io
import random
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

Row = dict[str, str]

MAPPING = {"version": 1, "external_system": "legacy", "files": [
    {"file": "accounts.csv", "entity": "accounts", "id_column": "id",
     "columns": {"name": "name", "domain": "domain", "industry": "industry", "phone": "phone",
                 "employees": "employee_count", "tier": "custom_fields.tier"},
     "unmapped": "ignore"},
    {"file": "contacts.csv", "entity": "contacts", "id_column": "id",
     "columns": {"first": "first_name", "last": "last_name", "email": "email",
                 "phone": "phone", "title": "title", "tier": "custom_fields.tier"},
     "references": {"account_public_id": {"column": "account", "by": "external_id"}},
     "unmapped": "ignore"}]}
ACCOUNT_COLUMNS = ("id", "name", "domain", "industry", "phone", "employees", "tier")
CONTACT_COLUMNS = ("id", "first", "last", "email", "phone", "title", "account", "tier")


def source_rows(rows: int) -> Iterator[tuple[str, Row]]:
    """(entity, row) for `rows` rows, accounts first; the same rows for the same count."""
    rng = random.Random(11)
    accounts = max(1, rows // 10)
    for i in range(accounts):
        yield "accounts", {"id": f"A{i}", "name": f"Account {i}", "domain": f"a{i}.example.com",
                           "industry": rng.choice(["Software", "Retail", "Energy"]),
                           "phone": f"+1-555-{i % 10000:04d}",
                           "employees": str(rng.randint(1, 5000)), "tier": rng.choice("ABC")}
    for i in range(rows - accounts):
        yield "contacts", {"id": f"C{i}", "first": rng.choice(["Ada", "Grace", "Alan"]),
                           "last": rng.choice(["Lovelace", "Hopper", "Turing"]),
                           "email": f"c{i}@example.com", "phone": f"+1-555-{i % 10000:04d}",
                           "title": rng.choice(["CTO", "Buyer", "Engineer"]),
                           "account": f"A{rng.randrange(accounts)}", "tier": rng.choice("ABC")}


@dataclass(frozen=True)
class Table:
    """One CSV file of a zip: its name, header and the cells of one source row."""

    file: str
    header: Sequence[str]
    cells: Callable[[Row], list[str]]


def _write_zip(path: Path, rows: int, tables: dict[str, Table], quoting: int = csv.QUOTE_MINIMAL,
               extra: dict[str, bytes] | None = None) -> None:
    """The rows as one CSV per entity, each zip entry written as a stream (rows come entity
    by entity, so one entry is open at a time)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        current: str | None = None
        handle: io.TextIOWrapper | None = None
        writer = None
        for entity, row in source_rows(rows):
            if entity != current:
                if handle is not None:
                    handle.close()
                table = tables[entity]
                # newline="": the csv module writes its own \r\n line ends
                handle = io.TextIOWrapper(archive.open(table.file, "w", force_zip64=True),
                                          encoding="utf-8", newline="")
                writer = csv.writer(handle, quoting=quoting)
                writer.writerow(table.header)
                current = entity
            writer.writerow(tables[entity].cells(row))
        if handle is not None:
            handle.close()
        for name, data in (extra or {}).items():
            archive.writestr(name, data)


def _columns(columns: Sequence[str]) -> Callable[[Row], list[str]]:
    return lambda row: [row[c] for c in columns]


def write_csv_zip(path: Path, rows: int) -> None:
    """accounts.csv, contacts.csv and the mapping that imports them (`?source=csv`)."""
    _write_zip(path, rows, {
        "accounts": Table("accounts.csv", ACCOUNT_COLUMNS, _columns(ACCOUNT_COLUMNS)),
        "contacts": Table("contacts.csv", CONTACT_COLUMNS, _columns(CONTACT_COLUMNS)),
    }, extra={"mapping.json": orjson.dumps(MAPPING)})


# Salesforce key prefixes of the objects written (shared/interop/salesforce_ids.py).
ACCOUNT_PREFIX, CONTACT_PREFIX = "001", "003"
SALESFORCE_ACCOUNT_HEADER = ("Id", "Name", "Website", "Industry", "Phone", "NumberOfEmployees",
                             "Tier__c")
SALESFORCE_CONTACT_HEADER = ("Id", "AccountId", "FirstName", "LastName", "Email", "Phone",
                             "Title", "Tier__c")


def salesforce_id(prefix: str, key: str) -> str:
    """The 18-character id of row `key` ("A12", "C7"): key prefix, an instance-like "8d", ten
    digits. Its first 15 characters hold no upper-case letter, so each 5-character block's
    case-safe suffix character is "A" — the checksum Salesforce would append."""
    return f"{prefix}8d{int(key[1:]):010d}AAA"


def _salesforce_account(row: Row) -> list[str]:
    # Website, not a domain: Account has no domain field, the converter takes the website's host
    return [salesforce_id(ACCOUNT_PREFIX, row["id"]), row["name"], f"https://{row['domain']}",
            row["industry"], row["phone"], row["employees"], row["tier"]]


def _salesforce_contact(row: Row) -> list[str]:
    return [salesforce_id(CONTACT_PREFIX, row["id"]), salesforce_id(ACCOUNT_PREFIX, row["account"]),
            row["first"], row["last"], row["email"], row["phone"], row["title"], row["tier"]]


def write_salesforce_zip(path: Path, rows: int) -> None:
    """Account.csv and Contact.csv as a Bulk API / Data Loader export writes them: every cell
    quoted, 18-character ids, contacts on their account by AccountId (`?source=salesforce`).
    No opportunity is among the rows, so no stage (nor OpportunityStage.csv) is involved."""
    _write_zip(path, rows, {
        "accounts": Table("Account.csv", SALESFORCE_ACCOUNT_HEADER, _salesforce_account),
        "contacts": Table("Contact.csv", SALESFORCE_CONTACT_HEADER, _salesforce_contact),
    }, quoting=csv.QUOTE_ALL)


def write_bundle(path: Path, rows: int) -> None:
    """The same rows as a bundle: public_ids, references by public_id."""
    with open(path, "wb") as out:
        out.write(b'{"version":1')
        current = None
        for entity, row in source_rows(rows):
            if entity != current:
                out.write((']' if current else '') .encode() + f',"{entity}":['.encode())
                current, first = entity, True
            bundle_row = {"public_id": f"x_{row['id']}", "external_system": "legacy",
                          "external_id": row["id"], "phone": row["phone"],
                          "custom_fields": {"tier": row["tier"]}}
            if entity == "accounts":
                bundle_row.update(name=row["name"], domain=row["domain"],
                                  industry=row["industry"], employee_count=int(row["employees"]))
            else:
                bundle_row.update(first_name=row["first"], last_name=row["last"],
                                  email=row["email"], title=row["title"],
                                  account_public_id=f"x_{row['account']}")
            out.write((b"" if first else b",") + orjson.dumps(bundle_row))
            first = False
        out.write(b"]}")
