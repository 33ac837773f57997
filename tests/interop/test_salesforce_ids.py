"""Salesforce ids and file names: the pieces a Bulk CSV's rows and references are keyed by."""
from __future__ import annotations

import pytest

from shared.interop.salesforce_bulk import object_from_file_name
from shared.interop.salesforce_ids import object_of, to_18
from shared.interop.salesforce_values import as_datetime, domain_of, reference


def test_a_15_character_id_gets_its_case_safe_suffix() -> None:
    assert to_18("001D000000IqhSL") == "001D000000IqhSLIAZ"
    # the same letters in another case are another record, so another suffix
    assert to_18("001D000000IqhSl") != to_18("001D000000IqhSL")
    assert to_18("001D000000IqhSl").lower() != to_18("001D000000IqhSL").lower()


def test_an_18_character_id_and_non_ids_are_kept_as_they_are() -> None:
    assert to_18("001D000000IqhSLIAZ") == "001D000000IqhSLIAZ"
    assert to_18("AccountRef1") == "AccountRef1"
    assert to_18("not an id at all") == "not an id at all"


def test_the_key_prefix_names_the_object() -> None:
    assert object_of("001D000000IqhSLIAZ") == "Account"
    assert object_of("00Q8d0000000001EAA") == "Lead"
    assert object_of("5008d000000001AAAA") == "Case"
    assert object_of("a0X8d000000001AAAA") == "custom object (key prefix a0X)"
    assert object_of("@AccountRef1") is None


def test_references_become_external_ids() -> None:
    assert reference("@AccountRef32") == "AccountRef32"
    assert reference("001D000000IqhSL") == "001D000000IqhSLIAZ"


@pytest.mark.parametrize(("name", "sobject"), [
    ("Account.csv", "Account"), ("account.CSV", "Account"), ("Account-2024.csv", "Account"),
    ("account_export.csv", "Account"), ("exports/Contacts.csv", "Contact"),
    ("Opportunity.csv", "Opportunity"), ("OpportunityStage.csv", "OpportunityStage"),
    ("opportunity_stage.csv", "OpportunityStage"), ("Task (1).csv", "Task"),
    ("Event.csv", "Event"), ("Lead.csv", "Lead"),
    ("Foo__c.csv", "Foo__c"), ("Account__c.csv", "Account__c"),
    ("AccountContactRelation.csv", None), ("OpportunityLineItem.csv", None),
    ("export.csv", None), ("Case.csv", None),
])
def test_the_object_a_file_name_gives(name: str, sobject: str | None) -> None:
    assert object_from_file_name(name) == sobject


def test_website_host_gives_the_domain() -> None:
    assert domain_of("http://www.Example.co.uk/path?q=1") == "example.co.uk"
    assert domain_of("acme.com") == "acme.com"
    assert domain_of("not a url") is None


def test_dates_and_salesforce_offsets_become_iso_datetimes() -> None:
    assert as_datetime("2024-03-01") == "2024-03-01T00:00:00Z"
    assert as_datetime("2024-01-15T09:30:00.000+0000") == "2024-01-15T09:30:00.000+00:00"
    assert as_datetime("2024-01-15T09:30:00.000Z") == "2024-01-15T09:30:00.000Z"
