"""Each fault switch of the loopback server, seen through the client: the right project
exception, and the right retry or re-login behaviour."""

from __future__ import annotations

import json

import pytest

from accounts.salesforce.client import SalesforceClient, SalesforceConfig
from accounts.salesforce.errors import (
    SalesforceLimitExceeded,
    SalesforceRetryable,
    SalesforceSessionExpired,
)
from accounts.salesforce.loopback import LoopbackServer
from tests.salesforce.conftest import SleepRecorder, client_with

EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def _leads(server: LoopbackServer, count: int) -> list[str]:
    return server.store.seed(
        "Lead", [{"LastName": f"L{i}", "Company": "Acme"} for i in range(count)]
    )


def _logins(server: LoopbackServer) -> int:
    return len(server.requests_to("POST", r"^/services/Soap/u/"))


# --- transient faults: bounded retries with backoff ------------------------------------------


def test_503_is_retried_with_backoff_then_succeeds(
    sf_server: LoopbackServer, sf_client: SalesforceClient, sleeps: SleepRecorder
) -> None:
    _leads(sf_server, 3)
    sf_server.faults.unavailable(times=2)
    assert sf_client.count("SELECT COUNT() FROM Lead") == 3
    assert len(sleeps.delays) == 2 and sf_client.retries == 2
    # Full jitter under an exponential ceiling: attempt n waits in [0, base * 2**n].
    assert 0 <= sleeps.delays[0] <= 0.5 and 0 <= sleeps.delays[1] <= 1.0


def test_503_beyond_the_retry_budget_raises_retryable(
    sf_server: LoopbackServer, sf_client: SalesforceClient, sleeps: SleepRecorder
) -> None:
    sf_server.faults.unavailable(times=10)
    with pytest.raises(SalesforceRetryable) as caught:
        sf_client.count("SELECT COUNT() FROM Lead")
    assert caught.value.code == "SERVER_UNAVAILABLE" and caught.value.status == 503
    assert "4 attempt(s)" in str(caught.value)
    assert len(sleeps.delays) == 3  # max_retries=3


def test_backoff_never_exceeds_the_configured_cap(sf_config: SalesforceConfig) -> None:
    client = client_with(sf_config, backoff_seconds=1.0, max_backoff_seconds=3.0)
    assert all(0 <= client._backoff(attempt) <= 3.0 for attempt in range(12))


def test_unable_to_lock_row_is_retried(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    lead_id = _leads(sf_server, 1)[0]
    sf_server.faults.unable_to_lock_row(times=1, method="PATCH")
    sf_client.update("Lead", lead_id, {"Title": "CTO"})
    assert sf_server.store.get("Lead", lead_id)["Title"] == "CTO"
    assert len(sf_server.requests_to("PATCH", r"/sobjects/Lead/")) == 2


def test_a_dropped_connection_on_a_read_is_retried(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 2)
    sf_server.faults.drop_connection(times=1, path=r"/query")
    assert sf_client.count("SELECT COUNT() FROM Lead") == 2
    assert sf_client.retries == 1


def test_a_create_whose_answer_was_lost_is_not_retried(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    # The server may have created it: retrying blindly could duplicate the record.
    sf_server.faults.drop_connection(times=1, path=r"/sobjects/Lead")
    with pytest.raises(SalesforceRetryable) as caught:
        sf_client.create("Lead", {"LastName": "Once", "Company": "Acme"})
    assert caught.value.code == "CONNECTION_ERROR"
    assert len(sf_server.requests_to("POST", r"/sobjects/Lead")) == 1


# --- expired sessions: exactly one re-login --------------------------------------------------


def test_an_expired_token_gets_one_re_login_then_the_call_succeeds(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 4)
    assert _logins(sf_server) == 1
    sf_server.expire_token()
    assert sf_client.count("SELECT COUNT() FROM Lead") == 4
    assert _logins(sf_server) == 2 and sf_client.relogins == 1


def test_an_expired_token_during_a_bulk_query_is_renewed(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 5)
    sf_server.expire_token()
    assert len(list(sf_client.bulk_query("SELECT Id FROM Lead"))) == 5
    assert sf_client.relogins == 1


def test_a_second_expiry_in_a_row_fails_clearly(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.faults.inject(401, EXPIRED, times=2)
    with pytest.raises(SalesforceSessionExpired, match="expired again right after a re-login"):
        sf_client.count("SELECT COUNT() FROM Lead")
    assert _logins(sf_server) == 2  # the first login and exactly one re-login


def test_an_expired_session_id_from_settings_cannot_be_renewed(
    sf_server: LoopbackServer, sf_config: SalesforceConfig
) -> None:
    token = sf_server.issue_token()
    client = client_with(sf_config, session_id=token, instance_url=sf_server.instance_url)
    sf_server.expire_token(token)
    with pytest.raises(SalesforceSessionExpired, match="cannot be renewed"):
        client.count("SELECT COUNT() FROM Lead")
    assert _logins(sf_server) == 0


# --- API limits: stop, never loop ------------------------------------------------------------


def test_request_limit_exceeded_stops_without_retrying(
    sf_server: LoopbackServer, sf_client: SalesforceClient, sleeps: SleepRecorder
) -> None:
    sf_server.faults.request_limit_exceeded()
    with pytest.raises(SalesforceLimitExceeded) as caught:
        sf_client.count("SELECT COUNT() FROM Lead")
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and caught.value.status == 403
    assert sleeps.delays == []
    assert len(sf_server.requests_to("GET", r"/query")) == 1


def test_usage_past_the_org_limit_answers_request_limit_exceeded(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.faults.set_api_usage(10, 10)
    with pytest.raises(SalesforceLimitExceeded) as caught:
        sf_client.count("SELECT COUNT() FROM Lead")
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"


def test_usage_over_the_stop_share_raises_before_the_next_call(
    sf_server: LoopbackServer, sf_config: SalesforceConfig
) -> None:
    client = client_with(sf_config, usage_stop_share=0.8)
    sf_server.faults.set_api_usage(84, 100)
    assert client.count("SELECT COUNT() FROM Lead") == 0  # answered with api-usage=85/100
    calls_before = len(sf_server.requests_log)
    with pytest.raises(SalesforceLimitExceeded) as caught:
        client.count("SELECT COUNT() FROM Lead")
    assert (caught.value.code, caught.value.used, caught.value.limit) == (
        "API_USAGE_STOP_SHARE",
        85,
        100,
    )
    assert len(sf_server.requests_log) == calls_before  # nothing more was spent


# --- a crash between two pages, then a resume ------------------------------------------------


def test_a_crash_between_two_pages_raises_and_the_query_resumes_from_the_locator(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = set(_leads(sf_server, 450))
    sf_server.faults.crash_between_pages(after_page=1)
    pages = sf_client.query_pages("SELECT Id FROM Lead ORDER BY Id", batch_size=200)
    first = next(pages)
    with pytest.raises(SalesforceRetryable):
        next(pages)
    sf_server.faults.clear()
    assert first.next_locator is not None
    rest = [
        r["Id"]
        for p in sf_client.query_pages("SELECT Id FROM Lead", locator=first.next_locator)
        for r in p.records
    ]
    seen = [r["Id"] for r in first.records] + rest
    assert len(seen) == len(set(seen)) == 450 and set(seen) == ids


def test_the_page_hook_sees_every_query_more(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 450)
    served: list[int] = []
    sf_server.faults.on_query_page = lambda locator, page: served.append(page)
    assert len(list(sf_client.query("SELECT Id FROM Lead", batch_size=200))) == 450
    assert served == [2, 3]


def test_bulk_jobs_that_stay_in_progress_are_polled_to_completion(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _leads(sf_server, 3)
    sf_server.faults.bulk_polls_in_progress = 2
    assert len(list(sf_client.bulk_query("SELECT Id FROM Lead"))) == 3
    assert len(sf_server.requests_to("GET", r"/jobs/query/[^/]+$")) == 3


def test_records_refused_for_a_row_lock_inside_a_collection_are_sent_again(
    sf_server: LoopbackServer, sf_client: SalesforceClient, sleeps: SleepRecorder
) -> None:
    ids = _leads(sf_server, 20)
    sf_server.faults.lock_records(3)
    results = sf_client.collection_update("Lead", [{"Id": i, "Tier__c": "Nurture"} for i in ids])
    assert all(r.success for r in results)
    calls = sf_server.requests_to("PATCH", r"/composite/sobjects$")
    assert [len(json.loads(c.body)["records"]) for c in calls] == [20, 3]
    assert {r["Tier__c"] for r in sf_server.store.all("Lead")} == {"Nurture"}
    assert len(sleeps.delays) == 1


def test_a_login_endpoint_that_is_down_is_retried_not_reported_as_bad_credentials(
    sf_server: LoopbackServer, sf_config: SalesforceConfig, sleeps: SleepRecorder
) -> None:
    sf_server.faults.unavailable(times=1, path=r"^/services/Soap/")
    client = client_with(sf_config, sleeps)
    assert client.count("SELECT COUNT() FROM Lead") == 0
    assert _logins(sf_server) == 2 and len(sleeps.delays) == 1


def test_a_connection_failure_during_the_re_login_is_retried(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sf_server.expire_token()
    sf_server.faults.drop_connection(times=1, path=r"^/services/Soap/")
    assert sf_client.count("SELECT COUNT() FROM Lead") == 0
    assert sf_client.relogins == 2 and _logins(sf_server) == 3
