from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Account, CommitteeRole
from dashboards.selectors.account import account_priority
from routing.models import SalesRep
from scoring.models import Tier
from scoring.selectors import AccountRollup
from tests.conftest import ROLE_SDR, user_in_role
from tests.dashboards.sdr_world import assigned_lead, busy_account
from tests.factories import AccountFactory, LeadFactory, SalesRepFactory

pytestmark = pytest.mark.django_db


def account_url(account: Account) -> str:
    return f"/accounts/{account.pk}/"


def _other_rep() -> SalesRep:
    rep: SalesRep = SalesRepFactory(user=user_in_role(ROLE_SDR, username="other-sdr"))
    return rep


def test_the_account_view_shows_score_stakeholder_map_engagement_and_leads(
    sdr_client: Client, sdr_user: User
) -> None:
    account, leads = busy_account(rep=sdr_user.sales_rep)
    theirs = assigned_lead(rep=_other_rep(), account=account, name="Colleague Lead")

    response = sdr_client.get(account_url(account))

    assert response.status_code == 200
    html = response.content.decode()
    detail = response.context["d"]
    assert detail.rollup.leads == 7
    assert f"{detail.priority.score}<span" in html and "priority" in html
    states = {slot.role: slot.state for slot in detail.roles}
    assert states == {
        CommitteeRole.ECONOMIC_BUYER: "engaged",
        CommitteeRole.CHAMPION: "engaged",
        CommitteeRole.TECHNICAL_EVALUATOR: "missing",
        CommitteeRole.USER: "engaged",
        CommitteeRole.BLOCKER: "missing",
    }
    assert "Missing: technical evaluator, blocker." in html
    assert 'id="account-engagement-chart"' in html and "The numbers" in html
    assert sum(detail.engagement.anonymous) == 1
    assert sum(detail.engagement.known) == 6 * 3 + 1  # the colleague's lead counts too
    # Every lead with its tier; only my own leads link to a brief.
    assert "Colleague Lead" in html
    assert f'href="/leads/{leads[0].pk}/"' in html
    assert f'href="/leads/{theirs.pk}/"' not in html
    assert [row.tier for row in detail.leads] == [Tier.SALES_READY] * 7
    assert "HX-Request" in response["Vary"]


def test_the_account_view_as_htmx_partials(sdr_client: Client, sdr_user: User) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=2)

    whole = sdr_client.get(account_url(account), HTTP_HX_REQUEST="true")
    chart = sdr_client.get(
        account_url(account), {"weeks": 52}, HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="account-engagement",
    )  # fmt: skip

    assert whole.content.decode().lstrip().startswith('<div id="account-content"')
    assert "<html" not in whole.content.decode()
    chart_html = chart.content.decode()
    assert chart_html.lstrip().startswith('<section id="account-engagement"')
    assert '<option value="52" selected>' in chart_html


def test_a_bad_range_falls_back_to_the_default(sdr_client: Client, sdr_user: User) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=1)
    response = sdr_client.get(account_url(account), {"weeks": "lots"})
    assert response.status_code == 200
    assert response.context["d"].engagement.span_weeks == 16


def test_an_sdr_gets_404_on_an_account_with_none_of_their_leads(sdr_client: Client) -> None:
    account = AccountFactory()
    assigned_lead(rep=_other_rep(), account=account)
    empty = AccountFactory()

    assert sdr_client.get(account_url(account)).status_code == 404
    assert sdr_client.get(account_url(account), HTTP_HX_REQUEST="true").status_code == 404
    assert (
        sdr_client.get(
            account_url(account), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-engagement"
        ).status_code
        == 404
    )
    assert sdr_client.get(account_url(empty)).status_code == 404
    assert sdr_client.get("/accounts/999999/").status_code == 404


def test_an_sdr_may_open_an_account_where_they_own_one_lead(
    sdr_client: Client, sdr_user: User
) -> None:
    account = AccountFactory()
    LeadFactory(account=account, owner=sdr_user)
    assert sdr_client.get(account_url(account)).status_code == 200


def test_a_manager_opens_any_account(manager_client: Client) -> None:
    account = AccountFactory()
    assigned_lead(rep=_other_rep(), account=account)
    assert manager_client.get(account_url(account)).status_code == 200


def test_the_account_view_reads_in_a_fixed_number_of_queries(
    sdr_client: Client, sdr_user: User, django_assert_max_num_queries: Any
) -> None:
    small, _ = busy_account(rep=sdr_user.sales_rep, people=2)
    sdr_client.get(account_url(small))
    with django_assert_max_num_queries(20) as context:
        sdr_client.get(account_url(small))
    few = len(context)

    big, _ = busy_account(rep=sdr_user.sales_rep, people=15)
    with django_assert_max_num_queries(few):
        response = sdr_client.get(account_url(big))
    assert len(response.context["d"].leads) == 15


def test_account_priority_grows_with_the_evidence() -> None:
    quiet = account_priority(AccountRollup())
    busy = account_priority(
        AccountRollup(
            best_tier=Tier.SALES_READY,
            highest_conversion_probability=0.8,
            engaged_stakeholders=4,
            committee_roles_covered=["champion", "economic_buyer", "technical_evaluator", "user"],
            max_intent_surge_30d=3.4,
            events_90d=2,
        )
    )

    assert (quiet.score, quiet.level) == (0, "low")
    assert (busy.score, busy.level) == (32 + 20 + 15 + 15 + 10, "high")
    assert sum(part.maximum for part in busy.parts) == 100
