"""One Salesforce record (its fields as name/value pairs, from a CSV row or a tree JSON record)
turned into one bundle row. Field names are matched case-insensitively: tree exports write
`accountId` or `annualrevenue`, Data Loader `ACCOUNTID`.

Fields the bundle models are mapped; every other field (OwnerId, Fax, Billing*, Type,
Probability, `*__c` custom fields...) is kept in custom_fields under its source name, so nothing
the export held is lost. Id becomes external_id and is never a custom field.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shared.interop.salesforce_ids import object_of
from shared.interop.salesforce_stages import StageMeanings
from shared.interop.salesforce_values import (
    as_count,
    as_date,
    as_datetime,
    as_decimal_text,
    as_text,
    custom_value,
    domain_of,
    is_empty,
    reference,
)
from shared.interop.source import row_error

EXTERNAL_SYSTEM = "salesforce"
ENTITY_OF = {"Account": "accounts", "Contact": "contacts", "Opportunity": "opportunities",
             "Lead": "leads", "Task": "activities", "Event": "activities"}
# The objects an activity's record may be, with the bundle's record_type for each.
RECORD_TYPE_OF = {"Account": "account", "Contact": "contact", "Lead": "lead",
                  "Opportunity": "opportunity"}

Normalize = Callable[[Any], Any]
COMMON: dict[str, tuple[str, Normalize]] = {
    "createddate": ("created_at", as_datetime),
    "lastmodifieddate": ("updated_at", as_datetime),
}
FIELDS: dict[str, dict[str, tuple[str, Normalize]]] = {
    "Account": {"name": ("name", as_text), "website": ("website", as_text),
                "phone": ("phone", as_text), "industry": ("industry", as_text),
                "numberofemployees": ("employee_count", as_count),
                "annualrevenue": ("annual_revenue", as_decimal_text),
                "description": ("description", as_text), "domain": ("domain", as_text),
                "parentid": ("parent_account_external_id", reference)},
    "Contact": {"firstname": ("first_name", as_text), "lastname": ("last_name", as_text),
                "email": ("email", as_text), "phone": ("phone", as_text),
                "title": ("title", as_text), "accountid": ("account_external_id", reference)},
    "Opportunity": {"name": ("name", as_text), "amount": ("amount", as_decimal_text),
                    "closedate": ("close_date", as_date),
                    "stagename": ("pipeline_stage_name", as_text),
                    "currencyisocode": ("currency", as_text),
                    "accountid": ("account_external_id", reference),
                    "contactid": ("contact_external_id", reference)},
    "Lead": {"firstname": ("first_name", as_text), "lastname": ("last_name", as_text),
             "email": ("email", as_text), "phone": ("phone", as_text),
             "company": ("company", as_text), "title": ("title", as_text),
             "status": ("status", as_text), "leadsource": ("source", as_text)},
    "Task": {"subject": ("subject", as_text), "description": ("body", as_text),
             "activitydate": ("due_at", as_datetime),
             "completeddatetime": ("completed_at", as_datetime)},
    "Event": {"subject": ("subject", as_text), "description": ("body", as_text),
              "startdatetime": ("occurred_at", as_datetime)},
}
# Fields read by hand below. IsWon/IsClosed are wholly said by an opportunity's status; a
# Task's Type/TaskSubtype ("Other", "LinkedIn") say more than the bundle's type, so they also
# stay in custom_fields (see _KEPT).
_SPECIAL = {"Opportunity": ("iswon", "isclosed"), "Task": ("whatid", "whoid", "type", "tasksubtype"),
            "Event": ("whatid", "whoid", "activitydatetime", "activitydate")}
_KEPT = {"type", "tasksubtype", "activitydatetime", "activitydate"}
_TASK_TYPES = {"call": "call", "email": "email", "listemail": "email"}
# referenceIds `sf data export tree` writes: AccountRef1, ContactRef12.
_TREE_REFERENCE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*?)Ref\d+$")
_OBJECT_BY_LOWER = {name.lower(): name for name in RECORD_TYPE_OF}


@dataclass(frozen=True)
class Parent:
    """The tree record a nested child record sits in."""

    sobject: str
    reference_id: str


def build_row(sobject: str, fields: Iterable[tuple[str, Any]], external_id: Any,
              stages: StageMeanings, file: str, parent: Parent | None = None) -> dict[str, Any]:
    """The bundle row of one record of `sobject` (one of ENTITY_OF)."""
    row: dict[str, Any] = {"external_system": EXTERNAL_SYSTEM}
    if not is_empty(external_id):
        row["external_id"] = as_text(external_id)
    custom: dict[str, Any] = {}
    mapping = FIELDS[sobject]
    special_keys = _SPECIAL.get(sobject, ())
    special: dict[str, tuple[str, Any]] = {}
    for name, value in fields:
        key = name.lower()
        if is_empty(value) or key in ("id", "attributes"):
            continue
        target = mapping.get(key) or COMMON.get(key)
        if target:
            row[target[0]] = target[1](value)
            continue
        if key in special_keys:
            special[key] = (name, value)
            if key not in _KEPT:
                continue
        custom[name] = custom_value(name, value)
    row["custom_fields"] = custom
    if sobject == "Account" and "domain" not in row:
        domain = domain_of(row.get("website"))
        if domain:
            row["domain"] = domain
    elif sobject == "Opportunity":
        row["status"] = stages.status_for(row.get("pipeline_stage_name"),
                                          _value(special, "iswon"), _value(special, "isclosed"),
                                          file)
    elif sobject in ("Task", "Event"):
        _activity(sobject, row, special, parent)
    if "external_id" not in row:
        row_error(row, "Id", "missing_id", f"the {sobject} record has no Id (a tree record: no "
                  "attributes.referenceId), so nothing can refer to it or update it later")
    return row


def _value(special: dict[str, tuple[str, Any]], key: str) -> Any:
    return special[key][1] if key in special else None


def _activity(sobject: str, row: dict[str, Any], special: dict[str, tuple[str, Any]],
              parent: Parent | None) -> None:
    if sobject == "Task":
        subtype = _value(special, "tasksubtype") or _value(special, "type")
        row["type"] = _TASK_TYPES.get(str(subtype).strip().lower(), "task") if subtype else "task"
    else:
        row["type"] = "meeting"
        when = _value(special, "activitydatetime") or _value(special, "activitydate")
        if "occurred_at" not in row and when:
            row["occurred_at"] = as_datetime(when)  # an all-day event has no StartDateTime
    # The record is WhatId when it names an account or opportunity, else WhoId (a contact or
    # lead); the other lookup is kept in custom_fields.
    chosen = False
    refused: list[str] = []
    for key in ("whatid", "whoid"):
        if key not in special:
            continue
        name, value = special[key]
        target = _referenced_object(value, parent)
        if not chosen and target in RECORD_TYPE_OF:
            row["record_type"] = RECORD_TYPE_OF[target]
            row["record_external_id"] = reference(value)
            chosen = True
            continue
        row["custom_fields"][name] = reference(value) if target else value
        refused.append(f"{name} {value!r} points at "
                       + (f"a record of {target}" if target else "a record of unknown object"))
    if refused and not chosen:
        row_error(row, special["whatid"][0] if "whatid" in special else special["whoid"][0],
                  "unsupported_reference", "; ".join(refused) + ": an activity can only belong "
                  "to an Account, Contact, Lead or Opportunity this import reads")


def _referenced_object(value: Any, parent: Parent | None) -> str | None:
    """Which object a WhatId/WhoId names: from an id's key prefix, or for a tree "@ref" from the
    enclosing record or the referenceId's own `<Object>Ref<n>` form."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("@"):
        if parent is not None and text[1:] == parent.reference_id:
            return parent.sobject
        match = _TREE_REFERENCE.match(text[1:])
        if not match:
            return None
        return _OBJECT_BY_LOWER.get(match.group(1).lower(), match.group(1))
    return object_of(text)
