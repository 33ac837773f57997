"""Salesforce and HubSpot exports end to end: a real worker imports them as they come, every
reference kept, and a second import of the same export changes nothing."""
from __future__ import annotations

from tests.bundles.helpers import counts, errors_of, rows, scalar
from tests.interop.e2e_helpers import finished, folder, post_files, post_zip, zip_of

ENTITIES = ("accounts", "contacts", "opportunities", "leads", "activities")


def _by_external_id(org, table: str) -> dict:
    return {r["external_id"]: r for r in rows(org, table)}


def test_salesforce_bulk_csvs_keep_every_reference(client, org, worker):
    job = finished(client, org, post_files(client, org, "salesforce",
                                           folder("salesforce-bulk")))
    assert job["source"] == "salesforce"
    assert job["status"] in ("succeeded", "completed_with_errors"), job
    created = {p: counts(job, p)["created"] for p in ENTITIES}
    assert created == {"accounts": 50, "contacts": 150, "opportunities": 50, "leads": 12,
                       "activities": 25}, (created, errors_of(client, org, job["id"]))
    accounts = _by_external_id(org, "accounts")
    contacts = _by_external_id(org, "contacts")
    first = contacts["0038d0000000001AAA"]
    assert first["account_id"] == accounts["0018d0000000010AAA"]["id"]
    assert all(a["external_system"] == "salesforce" for a in accounts.values())
    parents = [a for a in accounts.values() if a["parent_account_id"]]
    assert len(parents) == 7
    opportunities = _by_external_id(org, "opportunities")
    statuses = sorted(o["status"] for o in opportunities.values())
    assert statuses.count("won") == 3 and statuses.count("lost") == 1
    won_stage = scalar(org, "SELECT DISTINCT s.name FROM crm.opportunities o JOIN "
                            "crm.opportunity_pipeline_stages s ON s.id = o.pipeline_stage_id "
                            "WHERE o.organization_id = :org AND o.status = 'won'")
    assert won_stage == "Won"
    activities = _by_external_id(org, "activities")
    task = activities["00T8d0000000001EAA"]  # WhatId an opportunity, WhoId a contact
    assert task["record_type"] == "opportunity"
    assert task["record_id"] == opportunities["0068d0000000001AAA"]["id"]
    assert task["custom_fields"]["WhoId"] == "0038d0000000001AAA"
    lead_task = [a for a in activities.values() if a["record_type"] == "lead"]
    assert lead_task and all(a["record_id"] for a in lead_task)
    again = finished(client, org, post_files(client, org, "salesforce",
                                             folder("salesforce-bulk")))
    for plural in ENTITIES:
        c = counts(again, plural)
        assert c["created"] == 0 and c["updated"] == 0, (plural, c)


def test_salesforce_tree_export_as_one_zip(client, org, worker):
    data = zip_of(folder("salesforce-tree", "*.json"))
    job = finished(client, org, post_zip(client, org, "salesforce", data))
    assert job["status"] in ("succeeded", "completed_with_errors"), job
    assert {p: counts(job, p)["created"] for p in ("accounts", "contacts", "opportunities")} \
        == {"accounts": 50, "contacts": 150, "opportunities": 50}
    accounts = _by_external_id(org, "accounts")
    contacts = _by_external_id(org, "contacts")
    assert contacts["ContactRef1"]["account_id"] == accounts["AccountRef10"]["id"]
    opportunities = _by_external_id(org, "opportunities")
    assert opportunities["OpportunityRef1"]["account_id"] == accounts["AccountRef32"]["id"]
    assert str(opportunities["OpportunityRef1"]["close_date"]) == "2020-12-22"
    fell_back = {w["stage"] for w in job["warnings"] if w["code"] == "stage_fallback"}
    assert "Assigned dynamically" in fell_back


def test_salesforce_dry_run_resolves_references_inside_the_export(client, org, worker):
    job = finished(client, org, post_files(client, org, "salesforce",
                                           folder("salesforce-bulk"), query="&dry_run=true"))
    unresolved = [e for e in errors_of(client, org, job["id"])
                  if e["code"] == "unresolved_reference"]
    assert unresolved == []
    assert scalar(org, "SELECT count(*) FROM crm.accounts WHERE organization_id = :org") == 0


def test_a_reference_to_a_record_missing_everywhere_is_a_row_error_with_file_and_row(
        client, org, worker):
    files = {"Contact.csv": b'"Id","AccountId","LastName"\n'
                            b'"0038d0000000001AAA","0018d00000000ZZAAA","Orphan"\n'
                            b'"0038d0000000002AAA","","Alone"\n'}
    job = finished(client, org, post_files(client, org, "salesforce", files))
    [error] = errors_of(client, org, job["id"])
    assert error["file"] == "Contact.csv" and error["row"] == 2
    assert error["code"] == "unresolved_reference" and "salesforce" in error["message"]
    assert counts(job, "contacts")["created"] == 1


def test_hubspot_exports_keep_company_contact_and_deal_links(client, org, worker):
    job = finished(client, org, post_files(client, org, "hubspot", folder("hubspot")))
    assert job["source"] == "hubspot"
    assert job["status"] in ("succeeded", "completed_with_errors"), job
    assert {p: counts(job, p)["created"] for p in ("accounts", "contacts", "opportunities")} \
        == {"accounts": 50, "contacts": 150, "opportunities": 50}, \
        errors_of(client, org, job["id"])
    accounts = _by_external_id(org, "accounts")
    contacts = _by_external_id(org, "contacts")
    assert contacts["7701"]["account_id"] == accounts["8100000010"]["id"]
    deals = _by_external_id(org, "opportunities")
    assert deals["16000000001"]["account_id"] == accounts["8100000032"]["id"]
    assert deals["16000000001"]["contact_id"] == contacts["7701"]["id"]
    assert sorted(d["status"] for d in deals.values()).count("won") == 3


def test_a_retried_upload_with_the_same_idempotency_key_returns_the_same_job(client, org,
                                                                             worker):
    data = zip_of(folder("hubspot"))
    key = {"Idempotency-Key": "hubspot-2024-05-02"}
    first = post_zip(client, org, "hubspot", data, headers=key)
    assert first.status_code == 202
    again = post_zip(client, org, "hubspot", data, headers=key)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    other = post_zip(client, org, "hubspot", data, query="&dry_run=true", headers=key)
    assert other.status_code == 422  # the same key for another request
    finished(client, org, first)
