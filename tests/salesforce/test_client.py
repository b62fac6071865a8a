"""SalesforceClient (the project's only simple-salesforce user) against the loopback server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from accounts.salesforce.client import SalesforceClient, SalesforceConfig, soql_datetime
from accounts.salesforce.errors import (
    SalesforceAuthError,
    SalesforceConfigError,
    SalesforceConvertedLead,
    SalesforceDisabled,
    SalesforceNotFound,
    SalesforceQueryError,
    SalesforceRecordRejected,
)
from accounts.salesforce.loopback import (
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from tests.salesforce.conftest import client_with

LEAD_FIELDS = (
    "Id, Name, Company, OwnerId, Owner.Name, IsConverted, ConvertedDate, AnnualRevenue, "
    "SystemModstamp"
)


def _leads(server: LoopbackServer, count: int, **fields: object) -> list[str]:
    return server.store.seed(
        "Lead", [{"LastName": f"L{i}", "Company": "Acme", **fields} for i in range(count)]
    )


# --- configuration and logins ----------------------------------------------------------------


@override_settings(SALESFORCE_ENABLED=False)
def test_a_disabled_integration_refuses_to_connect() -> None:
    with pytest.raises(SalesforceDisabled, match="SALESFORCE_ENABLED"):
        SalesforceClient.connect()


def test_connect_reads_the_salesforce_settings(sf_server: LoopbackServer) -> None:
    with override_settings(
        SALESFORCE_ENABLED=True,
        SALESFORCE_LOOPBACK_URL=sf_server.url,
        SALESFORCE_USERNAME=INTEGRATION_USERNAME,
        SALESFORCE_PASSWORD=DEFAULT_PASSWORD,
        SALESFORCE_SECURITY_TOKEN=DEFAULT_SECURITY_TOKEN,
        SALESFORCE_SESSION_ID="",
        SALESFORCE_INSTANCE_URL="",
        SALESFORCE_CONSUMER_KEY="",
    ):
        client = SalesforceClient.connect()
    assert client.auth_mode == "password"
    assert client.count("SELECT COUNT() FROM Lead") == 0


def test_settings_without_a_usable_login_fail_clearly() -> None:
    with pytest.raises(SalesforceConfigError, match="SALESFORCE_USERNAME"):
        SalesforceConfig(username="only-a-name").auth_mode  # noqa: B018
    with pytest.raises(SalesforceConfigError, match="My Domain"):
        SalesforceConfig(consumer_key="k", consumer_secret="s", domain="login").auth_mode  # noqa: B018


def test_a_wrong_password_raises_the_project_auth_error(sf_config: SalesforceConfig) -> None:
    with pytest.raises(SalesforceAuthError) as caught:
        client_with(sf_config, password="wrong")
    assert caught.value.code == "INVALID_LOGIN"


def test_session_id_login(sf_server: LoopbackServer, sf_config: SalesforceConfig) -> None:
    client = client_with(
        sf_config, session_id=sf_server.issue_token(), instance_url=sf_server.instance_url
    )
    assert client.auth_mode == "session"
    assert client.count("SELECT COUNT() FROM User") >= 1


def test_oauth_client_credentials_login(
    sf_server: LoopbackServer, sf_config: SalesforceConfig
) -> None:
    client = client_with(
        sf_config,
        username="",
        password="",
        consumer_key=DEFAULT_CONSUMER_KEY,
        consumer_secret=DEFAULT_CONSUMER_SECRET,
        domain="acme.my",
    )
    assert client.auth_mode == "client_credentials"
    assert client.count("SELECT COUNT() FROM User") >= 1
    assert sf_server.requests_to("POST", r"/services/oauth2/token$")


def test_oauth_password_login(sf_config: SalesforceConfig) -> None:
    client = client_with(
        sf_config, consumer_key=DEFAULT_CONSUMER_KEY, consumer_secret=DEFAULT_CONSUMER_SECRET
    )
    assert client.auth_mode == "oauth_password"
    assert client.count("SELECT COUNT() FROM User") >= 1


def test_oauth_jwt_login_with_a_private_key_file(
    sf_server: LoopbackServer, sf_config: SalesforceConfig, tmp_path: object
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "sf.key"  # type: ignore[operator]
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sf_server.add_connected_app("jwt-app", "unused", public_key_pem=public)
    client = client_with(sf_config, password="", consumer_key="jwt-app", private_key_file=str(path))
    assert client.auth_mode == "jwt"
    assert client.count("SELECT COUNT() FROM User") >= 1


# --- queries ---------------------------------------------------------------------------------


def test_query_pages_over_more_than_2000_records_and_types_the_values(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 2_100, AnnualRevenue=1000)
    pages = list(
        sf_client.query_pages(f"SELECT {LEAD_FIELDS} FROM Lead ORDER BY SystemModstamp, Id")
    )
    assert [len(p.records) for p in pages] == [2000, 100]
    assert pages[0].next_locator and pages[-1].done
    record = pages[0].records[0]
    assert record["IsConverted"] is False and record["ConvertedDate"] is None
    assert record["AnnualRevenue"] == 1000.0
    assert record["Owner.Name"] == "Integration User"
    assert (
        isinstance(record["SystemModstamp"], dt.datetime)
        and record["SystemModstamp"].tzinfo is not None
    )
    assert len({r["Id"] for p in pages for r in p.records}) == 2_100


def test_incremental_window_on_system_modstamp_with_query_all_sees_deletes(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    old, fresh = dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
    sf_server.store.seed("Lead", [{"LastName": "Old", "Company": "A"}], system_modstamp=old)
    sf_server.store.clock.set(fresh)
    kept, gone = _leads(sf_server, 2)
    sf_client.delete("Lead", gone)
    soql = (
        f"SELECT Id, IsDeleted, SystemModstamp FROM Lead "
        f"WHERE SystemModstamp >= {soql_datetime(fresh)} "
        f"ORDER BY SystemModstamp, Id"
    )
    assert [r["Id"] for r in sf_client.query(soql)] == [kept]
    both = list(sf_client.query(soql, include_deleted=True))
    assert {(r["Id"], r["IsDeleted"]) for r in both} == {(kept, False), (gone, True)}


def test_rest_and_bulk_queries_return_the_same_records(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 300, AnnualRevenue=2.5e6)
    sf_server.store.convert_lead(sf_server.store.all("Lead")[0]["Id"])
    soql = f"SELECT {LEAD_FIELDS} FROM Lead ORDER BY Id"
    rest = list(sf_client.query(soql))
    bulk = list(sf_client.bulk_query(soql, page_size=120))
    assert rest == bulk and len(bulk) == 300
    assert sum(1 for r in bulk if r["IsConverted"]) == 1
    assert len(sf_server.requests_to("GET", r"/jobs/query/.+/results$")) == 3


def test_a_bad_query_raises_the_project_query_error(sf_client: SalesforceClient) -> None:
    with pytest.raises(SalesforceQueryError) as caught:
        list(sf_client.query("SELECT Nope__c FROM Lead"))
    assert caught.value.code == "INVALID_FIELD"


# --- records ---------------------------------------------------------------------------------


def test_create_get_update_delete(sf_client: SalesforceClient) -> None:
    lead_id = sf_client.create("Lead", {"LastName": "Lin", "Company": "Acme", "AnnualRevenue": 10})
    sf_client.update("Lead", lead_id, {"Title": "CFO"})
    record = sf_client.get("Lead", lead_id, ["Id", "Title", "AnnualRevenue", "IsConverted"])
    assert record == {"Id": lead_id, "Title": "CFO", "AnnualRevenue": 10.0, "IsConverted": False}
    sf_client.delete("Lead", lead_id)
    with pytest.raises(SalesforceNotFound):
        sf_client.get("Lead", lead_id)


def test_upsert_by_external_id_is_idempotent(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    first = sf_client.upsert(
        "Lead", "External_Id__c", "LQ/7 a", {"LastName": "Ray", "Company": "Acme"}
    )
    second = sf_client.upsert(
        "Lead", "External_Id__c", "LQ/7 a", {"LastName": "Ray", "Company": "Acme"}
    )
    assert (first.created, second.created, first.id) == (True, False, second.id)
    assert len(sf_server.store.all("Lead")) == 1


def test_a_record_rejected_by_validation_raises_record_rejected(
    sf_client: SalesforceClient,
) -> None:
    with pytest.raises(SalesforceRecordRejected) as caught:
        sf_client.create("Lead", {"LastName": "No company"})
    assert (caught.value.code, caught.value.fields) == ("REQUIRED_FIELD_MISSING", ("Company",))


def test_updating_a_converted_lead_raises_a_skippable_converted_lead_error(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    lead_id = _leads(sf_server, 1)[0]
    sf_server.store.convert_lead(lead_id)
    with pytest.raises(SalesforceConvertedLead) as caught:
        sf_client.update("Lead", lead_id, {"Tier__c": "Nurture"})
    assert isinstance(caught.value, SalesforceRecordRejected)
    assert caught.value.code == "CANNOT_UPDATE_CONVERTED_LEAD"


# --- composite collections -------------------------------------------------------------------


def test_collection_update_batches_by_200_with_auto_assign_false_and_keeps_routed_owners(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = sf_server.add_user("rep@example.com", password="x")
    rule_owner = sf_server.add_user("rule@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(rule_owner)
    ids = _leads(sf_server, 450)
    sf_server.store.convert_lead(ids[7])
    results = sf_client.collection_update(
        "Lead", [{"Id": i, "OwnerId": rep, "Tier__c": "Sales Ready", "Score__c": 0.91} for i in ids]
    )
    calls = sf_server.requests_to("PATCH", r"/composite/sobjects$")
    assert [len(json.loads(c.body)["records"]) for c in calls] == [200, 200, 50]
    assert all(c.header("Sforce-Auto-Assign") == "FALSE" for c in calls)
    assert [r.success for r in results].count(False) == 1
    assert results[7].is_converted_lead and not results[7].success
    owners = {r["OwnerId"] for r in sf_server.store.all("Lead") if not r["IsConverted"]}
    assert owners == {rep}


def test_collection_update_with_auto_assign_lets_the_rule_move_the_owner(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = sf_server.add_user("rep@example.com", password="x")
    rule_owner = sf_server.add_user("rule@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(rule_owner)
    ids = _leads(sf_server, 10)
    sf_client.collection_update("Lead", [{"Id": i, "OwnerId": rep} for i in ids], auto_assign=True)
    assert {r["OwnerId"] for r in sf_server.store.all("Lead")} == {rule_owner}


def test_collection_upsert_by_external_id(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.store.seed("Lead", [{"LastName": "Old", "Company": "A", "External_Id__c": "E-1"}])
    results = sf_client.collection_upsert(
        "Lead",
        "External_Id__c",
        [
            {"External_Id__c": "E-1", "Title": "CEO"},
            {"External_Id__c": "E-2", "LastName": "New", "Company": "B"},
        ],
    )
    assert [(r.success, r.created) for r in results] == [(True, False), (True, True)]
    assert len(sf_server.store.all("Lead")) == 2


# --- Bulk API 2.0 ingest, describe, usage ----------------------------------------------------


def test_bulk_ingest_update_reports_successes_and_per_row_failures(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = _leads(sf_server, 30)
    rows = [{"Id": i, "Tier__c": "Nurture", "Score__c": 0.4, "Title": None} for i in ids]
    rows[3]["Tier__c"] = "Gold"
    result = sf_client.bulk_ingest("Lead", "update", rows)
    assert (result.processed, result.failed, len(result.successful)) == (30, 1, 29)
    assert result.failures[0].code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert result.failures[0].row["Id"] == ids[3]
    assert sf_server.store.get("Lead", ids[0])["Tier__c"] == "Nurture"


def test_bulk_ingest_does_not_trigger_the_assignment_rule(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = sf_server.add_user("rep@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(sf_server.add_user("rule@example.com", password="x"))
    result = sf_client.bulk_ingest(
        "Lead", "insert", [{"LastName": "Q", "Company": "C", "OwnerId": rep}]
    )
    assert result.failed == 0
    assert sf_server.store.all("Lead")[0]["OwnerId"] == rep


def test_describe_reports_the_custom_fields_and_their_types(sf_client: SalesforceClient) -> None:
    lead = sf_client.describe("Lead")
    assert lead.key_prefix == "00Q"
    tier = lead.field("tier__c")
    assert tier is not None and tier.updateable and "Sales Ready" in tier.picklist_values
    assert lead.field("Brief__c").type == "textarea"  # type: ignore[union-attr]
    assert "Opportunity" in sf_client.object_names()


def test_api_usage_is_read_from_every_answer(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.faults.set_api_usage(1_000, 15_000)
    sf_client.count("SELECT COUNT() FROM Lead")
    assert sf_client.api_usage is not None
    assert (sf_client.api_usage.used, sf_client.api_usage.limit) == (1_001, 15_000)
    assert sf_client.limits()["DailyApiRequests"].max == 15_000


def test_the_client_never_sends_naive_datetimes(sf_client: SalesforceClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        soql_datetime(dt.datetime(2025, 1, 1))
    assert soql_datetime(dt.datetime(2025, 1, 1, 10, 30, tzinfo=dt.UTC)) == "2025-01-01T10:30:00Z"


def test_api_writes_are_stamped_with_the_logged_in_user_so_echoes_can_be_told_apart(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    seeded = _leads(sf_server, 1)[0]
    written = sf_client.create("Lead", {"LastName": "Api", "Company": "Acme"})
    rows = {
        r["Id"]: r["LastModifiedById"]
        for r in sf_client.query("SELECT Id, LastModifiedById FROM Lead")
    }
    assert rows[written] == sf_server.store.integration_user_id
    assert rows[seeded] == sf_server.store.admin_user_id


def test_single_record_writes_also_keep_the_owner_under_an_active_assignment_rule(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = sf_server.add_user("rep@example.com", password="x")
    sf_server.store.set_lead_assignment_rule(sf_server.add_user("rule@example.com", password="x"))
    created = sf_client.create("Lead", {"LastName": "A", "Company": "C", "OwnerId": rep})
    sf_client.update("Lead", created, {"Title": "CTO"})
    upserted = sf_client.upsert(
        "Lead", "External_Id__c", "X-1", {"LastName": "B", "Company": "C", "OwnerId": rep}
    )
    assert {sf_server.store.get("Lead", i)["OwnerId"] for i in (created, upserted.id or "")} == {
        rep
    }
    writes = [
        r
        for r in sf_server.requests_log
        if r.method in ("POST", "PATCH") and "/sobjects/" in r.path
    ]
    assert len(writes) == 3 and all(r.header("Sforce-Auto-Assign") == "FALSE" for r in writes)


def test_the_loopback_session_ignores_proxy_and_ca_bundle_variables(
    sf_server: LoopbackServer, sf_config: SalesforceConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests merges these into every request, over the session's own settings.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = client_with(sf_config)
    assert client.count("SELECT COUNT() FROM Lead") == 0
