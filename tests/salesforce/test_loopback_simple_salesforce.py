"""Unmodified simple-salesforce against the loopback server: the server speaks Salesforce."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from accounts.salesforce.loopback import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from accounts.salesforce.loopback.ids import checksum


@pytest.fixture
def sf(sf_server: LoopbackServer) -> Any:
    # Any: simple-salesforce's attribute magic (sf.Lead, sf.bulk2.Lead) defeats static types.
    return Salesforce(
        username=INTEGRATION_USERNAME,
        password=DEFAULT_PASSWORD,
        security_token=DEFAULT_SECURITY_TOKEN,
        session=sf_server.session(),
    )


def _error(caught: Any) -> Any:
    """The first error of a simple-salesforce exception's JSON body."""
    return caught.value.content[0]


@pytest.fixture
def rep(sf_server: LoopbackServer) -> Iterator[str]:
    yield sf_server.add_user("rep@example.com", password="x", FirstName="Rita", LastName="Rep")


def _leads(sf_server: LoopbackServer, count: int, **fields: object) -> list[str]:
    return sf_server.store.seed(
        "Lead", [{"LastName": f"Lead {i}", "Company": "Acme", **fields} for i in range(count)]
    )


# --- logins ----------------------------------------------------------------------------------


def test_soap_login_with_password_and_security_token_reaches_the_loopback_instance(
    sf_server: LoopbackServer, sf: Any
) -> None:
    assert sf.sf_instance == f"127.0.0.1:{sf_server.port}"
    assert sf.session_id in sf_server.tokens
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_soap_login_with_a_wrong_password_is_refused_with_invalid_login(
    sf_server: LoopbackServer,
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=INTEGRATION_USERNAME,
            password="wrong",
            security_token="",
            session=sf_server.session(),
        )
    assert caught.value.code == "INVALID_LOGIN"


def test_oauth_password_flow_logs_in(sf_server: LoopbackServer) -> None:
    sf = Salesforce(
        username=INTEGRATION_USERNAME,
        password=DEFAULT_PASSWORD + DEFAULT_SECURITY_TOKEN,
        consumer_key=DEFAULT_CONSUMER_KEY,
        consumer_secret=DEFAULT_CONSUMER_SECRET,
        session=sf_server.session(),
    )
    assert sf.limits()["DailyApiRequests"]["Max"] == 100_000


def test_oauth_client_credentials_flow_logs_in_on_my_domain(sf_server: LoopbackServer) -> None:
    sf = Salesforce(
        consumer_key=DEFAULT_CONSUMER_KEY,
        consumer_secret=DEFAULT_CONSUMER_SECRET,
        domain="acme.my",
        session=sf_server.session(),
    )
    assert sf.query("SELECT Id FROM User")["totalSize"] >= 1
    token_calls = sf_server.requests_to("POST", r"/services/oauth2/token$")
    assert (token_calls[-1].header("Authorization") or "").startswith("Basic ")


def test_oauth_jwt_bearer_flow_checks_the_signature_with_the_apps_certificate(
    sf_server: LoopbackServer,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sf_server.add_connected_app("jwt-app", "unused", public_key_pem=public_pem)
    sf = Salesforce(
        username=INTEGRATION_USERNAME,
        consumer_key="jwt-app",
        privatekey=private_pem,
        session=sf_server.session(),
    )
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(
            username=INTEGRATION_USERNAME,
            consumer_key="jwt-app",
            privatekey=forged,
            session=sf_server.session(),
        )
    assert jwt.__version__  # the JWT flow needs pyjwt[crypto], a simple-salesforce dependency


def test_direct_session_id_works_and_an_unknown_token_is_invalid_session_id(
    sf_server: LoopbackServer,
) -> None:
    good = Salesforce(
        session_id=sf_server.issue_token(),
        instance_url=sf_server.instance_url,
        session=sf_server.session(),
    )
    assert good.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    bad = Salesforce(
        session_id="nope", instance_url=sf_server.instance_url, session=sf_server.session()
    )
    with pytest.raises(SalesforceExpiredSession) as caught:
        bad.query("SELECT COUNT() FROM Lead")
    assert _error(caught)["errorCode"] == "INVALID_SESSION_ID"


# --- query -----------------------------------------------------------------------------------


def test_query_all_pages_over_more_than_2000_records_with_query_more(
    sf_server: LoopbackServer, sf: Any
) -> None:
    _leads(sf_server, 2_345)
    result = sf.query_all("SELECT Id, Name FROM Lead")
    assert result["totalSize"] == 2_345
    assert len({r["Id"] for r in result["records"]}) == 2_345
    more = sf_server.requests_to("GET", r"/query/0r8")
    assert len(more) == 1  # 2,000 + 345


def test_query_honours_the_batch_size_header(sf_server: LoopbackServer, sf: Any) -> None:
    _leads(sf_server, 450)
    first = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})
    assert (len(first["records"]), first["done"], first["totalSize"]) == (200, False, 450)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/0r8")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200


def test_query_all_sees_deleted_records_and_query_does_not(
    sf_server: LoopbackServer, sf: Any
) -> None:
    ids = _leads(sf_server, 3)
    sf.Lead.delete(ids[0])
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 2
    deleted = sf.query(
        "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", include_deleted=True
    )
    assert [(r["Id"], r["IsDeleted"]) for r in deleted["records"]] == [(ids[0], True)]


def test_soql_where_order_and_limit_select_the_right_rows(
    sf_server: LoopbackServer, sf: Any, rep: str
) -> None:
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
    sf_server.store.seed(
        "Lead",
        [
            {
                "LastName": "A",
                "Company": "Acme",
                "AnnualRevenue": 5e6,
                "OwnerId": rep,
                "SystemModstamp": old,
            },
            {"LastName": "B", "Company": "Globex", "AnnualRevenue": 1e6, "SystemModstamp": new},
            {"LastName": "C", "Company": "Initech", "SystemModstamp": new},
            {"LastName": "O'Neil", "Company": "Hooli", "AnnualRevenue": 9e6, "SystemModstamp": new},
        ],
    )
    rows = sf.query(
        "SELECT LastName, Owner.Name FROM Lead WHERE (SystemModstamp >= 2024-06-01T12:00:00Z AND "
        "AnnualRevenue != null) OR Company IN ('acme') "
        "ORDER BY AnnualRevenue DESC NULLS LAST LIMIT 2"
    )["records"]
    assert [r["LastName"] for r in rows] == ["O'Neil", "A"]
    assert rows[1]["Owner"]["Name"] == "Rita Rep"
    escaped = sf.query("SELECT Id FROM Lead WHERE LastName = 'O\\'Neil' AND Company LIKE 'Hoo%'")
    assert escaped["totalSize"] == 1
    assert (
        sf.query("SELECT Id FROM Lead WHERE SystemModstamp < 2024-06-01T12:00:00.000+00:00")[
            "totalSize"
        ]
        == 1
    )


def test_soql_errors_carry_salesforce_codes(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Foo FROM Lead")
    assert _error(unknown)["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Foo' on entity 'Lead'" in _error(unknown)["message"]
    with pytest.raises(SalesforceMalformedRequest) as quoted:
        sf.query("SELECT Id FROM Lead WHERE SystemModstamp > '2024-01-01T00:00:00Z'")
    assert _error(quoted)["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    with pytest.raises(SalesforceMalformedRequest) as bad_type:
        sf.query("SELECT Id FROM Leads")
    assert _error(bad_type)["errorCode"] == "INVALID_TYPE"


# --- sObjects --------------------------------------------------------------------------------


def test_crud_keeps_system_fields_and_ids_right(sf_server: LoopbackServer, sf: Any) -> None:
    sf_server.store.clock.set(dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC))
    created = sf.Lead.create({"LastName": "Ng", "Company": "Acme", "Email": "ng@acme.example"})
    lead_id = created["id"]
    assert created["success"] and len(lead_id) == 18 and lead_id.startswith("00Q")
    assert lead_id[15:] == checksum(lead_id[:15])
    sf_server.store.clock.advance(60)
    assert sf.Lead.update(lead_id[:15], {"Title": "CTO"}) == 204  # 15-char ids are accepted
    record = sf.Lead.get(lead_id)
    assert (record["Title"], record["Name"]) == ("CTO", "Ng")
    assert record["CreatedDate"] == "2025-03-01T09:00:00.000+0000"
    assert record["SystemModstamp"] == record["LastModifiedDate"] == "2025-03-01T09:01:00.000+0000"
    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Lead.get(lead_id)
    assert _error(gone)["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_by_external_id_creates_then_updates(sf: Any) -> None:
    first = sf.Lead.upsert(
        "External_Id__c/LQ-1", {"LastName": "Ode", "Company": "Acme"}, raw_response=True
    )
    second = sf.Lead.upsert("External_Id__c/LQ-1", {"Title": "VP"}, raw_response=True)
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (second.status_code, second.json()["created"]) == (200, False)
    assert first.json()["id"] == second.json()["id"]
    assert sf.Lead.get_by_custom_id("External_Id__c", "LQ-1")["Title"] == "VP"


def test_create_validation_errors_are_salesforce_shaped(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"LastName": "X"})
    assert _error(missing)["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert _error(missing)["fields"] == ["Company"]
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Lead.create({"LastName": "X", "Company": "Y", "IsConverted": True})
    assert _error(read_only)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as picklist:
        sf.Lead.create({"LastName": "X", "Company": "Y", "Tier__c": "Gold"})
    assert _error(picklist)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_opportunity_stage_drives_is_closed_and_is_won(sf: Any) -> None:
    opp = sf.Opportunity.create(
        {"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2025-01-31", "Amount": 1200}
    )
    record = sf.Opportunity.get(opp["id"])
    assert (record["IsClosed"], record["IsWon"], record["Amount"], record["CloseDate"]) == (
        True,
        True,
        1200.0,
        "2025-01-31",
    )


def test_converted_lead_update_gets_the_real_error(sf_server: LoopbackServer, sf: Any) -> None:
    lead_id = _leads(sf_server, 1)[0]
    converted = sf_server.store.convert_lead(lead_id)
    assert converted["opportunity_id"] is not None
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead_id, {"Tier__c": "Nurture"})
    assert _error(caught) == {
        "message": "cannot reference converted lead",
        "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
        "fields": [],
    }


# --- composite collections -------------------------------------------------------------------


def test_collection_update_of_200_with_auto_assign_false_keeps_the_owner(
    sf_server: LoopbackServer, sf: Any, rep: str
) -> None:
    queue_owner = sf_server.add_user("queue@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(queue_owner)
    ids = _leads(sf_server, 200)
    records = [{"attributes": {"type": "Lead"}, "id": i, "OwnerId": rep} for i in ids]
    result = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"allOrNone": False, "records": records},
        headers={"Sforce-Auto-Assign": "FALSE"},
    )
    assert all(item["success"] for item in result)
    assert {r["OwnerId"] for r in sf_server.store.all("Lead")} == {rep}


def test_collection_update_without_the_header_lets_the_assignment_rule_move_the_owner(
    sf_server: LoopbackServer, sf: Any, rep: str
) -> None:
    queue_owner = sf_server.add_user("queue@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(queue_owner)
    ids = _leads(sf_server, 200)
    records = [{"attributes": {"type": "Lead"}, "id": i, "OwnerId": rep} for i in ids]
    sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
    assert {r["OwnerId"] for r in sf_server.store.all("Lead")} == {queue_owner}


def test_collections_refuse_more_than_200_and_roll_back_all_or_none(
    sf_server: LoopbackServer, sf: Any
) -> None:
    ids = _leads(sf_server, 201)
    too_many = [{"attributes": {"type": "Lead"}, "id": i, "Title": "x"} for i in ids]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": too_many}
        )
    mixed = [
        {"attributes": {"type": "Lead"}, "id": ids[0], "Title": "ok"},
        {"attributes": {"type": "Lead"}, "id": ids[1], "Tier__c": "Gold"},
    ]
    result = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": mixed}
    )
    assert result[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert result[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf_server.store.get("Lead", ids[0])["Title"] is None


# --- Bulk API 2.0, describe, limits, speed ---------------------------------------------------


def test_bulk2_ingest_and_query_round_trip(sf_server: LoopbackServer, sf: Any) -> None:
    rows = [
        {"LastName": f"B{i}", "Company": "Bulk Co", "External_Id__c": f"B-{i}"} for i in range(120)
    ]
    rows.append({"LastName": "", "Company": "No Name", "External_Id__c": "B-bad"})
    jobs = sf.bulk2.Lead.upsert(records=rows, external_id_field="External_Id__c", wait=0)
    assert (jobs[0]["numberRecordsProcessed"], jobs[0]["numberRecordsFailed"]) == (121, 1)
    failed = sf.bulk2.Lead.get_failed_records(jobs[0]["job_id"])
    assert "REQUIRED_FIELD_MISSING" in failed
    pages = list(
        sf.bulk2.Lead.query(
            "SELECT Id, External_Id__c, Owner.Name FROM Lead", max_records=50, wait=0
        )
    )
    assert len(pages) == 3
    lines = [line for page in pages for line in page.strip().splitlines()[1:]]
    assert len(lines) == 120
    assert pages[0].splitlines()[0] == '"Id","External_Id__c","Owner.Name"'


def test_describe_lists_the_custom_fields_the_push_writes(sf: Any) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert {"Score__c", "Tier__c", "Brief__c", "External_Id__c"} <= set(fields)
    assert fields["Tier__c"]["updateable"] and fields["External_Id__c"]["externalId"]
    assert not fields["IsConverted"]["updateable"]
    assert {o["name"] for o in sf.describe()["sobjects"]} >= {
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Task",
        "Event",
        "User",
    }


def test_every_api_answer_carries_sforce_limit_info(sf_server: LoopbackServer, sf: Any) -> None:
    sf_server.faults.set_api_usage(41, 15_000)
    sf.query("SELECT COUNT() FROM Lead")
    assert sf.api_usage["api-usage"].used == 42
    assert sf.api_usage["api-usage"].total == 15_000


def test_the_server_answers_without_the_nagle_delay(sf_server: LoopbackServer, sf: Any) -> None:
    # With Nagle x delayed ACK each request costs ~40 ms: 200 creates would take 8 s.
    started = time.perf_counter()
    for i in range(200):
        sf.Lead.create({"LastName": f"N{i}", "Company": "Speed"})
    assert time.perf_counter() - started < 4.0


def test_get_updated_and_get_deleted_cover_the_window(sf_server: LoopbackServer, sf: Any) -> None:
    start = dt.datetime(2025, 4, 1, 10, 0, tzinfo=dt.UTC)
    sf_server.store.clock.set(start + dt.timedelta(minutes=5))
    kept, gone = _leads(sf_server, 2)
    sf.Lead.delete(gone)
    end = start + dt.timedelta(minutes=30)
    assert sf.Lead.updated(start, end)["ids"] == [kept]
    assert [d["id"] for d in sf.Lead.deleted(start, end)["deletedRecords"]] == [gone]
