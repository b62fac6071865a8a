from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Account, CommitteeRole
from routing.models import SalesRep
from scoring.account_services import accounts_qualify
from scoring.models import (
    AccountQualification,
    AccountQualificationReason,
    AccountScoringSettings,
    Tier,
)
from tests.account_qualification_world import account_history_store, account_qualification_store
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
    assert detail.qualification is None and "Not scored yet" in html
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


def test_the_account_page_shows_the_stored_qualification_not_one_computed_on_the_spot(
    sdr_client: Client, sdr_user: User
) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=2)
    # Crafted values no computation from this account's evidence would give.
    stored = account_qualification_store(account, score=71, priority="high")

    response = sdr_client.get(account_url(account))

    html = response.content.decode()
    q = response.context["d"].qualification
    assert (q.qualification_id, q.score, q.level) == (stored.pk, 71, "high")
    assert "High priority" in html and "71<span" in html
    assert [(p.label, p.points, p.maximum) for p in q.parts] == [
        ("Combined engagement", 23, 30),
        ("Committee coverage", 12, 25),
        ("Cross-functional interest", 10, 15),
        ("Company intent", 20, 20),
        ("Displacement and timing", 6, 10),
    ]
    assert "Contract with Acme CRM renews in 60 days" in html
    assert "300% research surge on &quot;lead scoring&quot;" in html
    assert [r.label for r in q.roles_engaged] == ["Champion", "User"]
    assert [r.label for r in q.roles_missing] == ["Economic buyer"]
    assert "Economic buyer: missing" in html and "Technical evaluator: quiet" in html
    assert q.departments == ["Engineering", "Operations"]
    assert "Find the economic buyer" in html
    assert "Intent signal arrived: lead scoring" in html
    assert f'datetime="{stored.computed_at.isoformat()}"' in html


def test_the_account_page_lists_the_earlier_priorities_newest_first(
    sdr_client: Client, sdr_user: User
) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=1)
    account_history_store(account)

    response = sdr_client.get(account_url(account))

    history = response.context["d"].history
    assert [(h.label, h.score) for h in history] == [("Medium", 41), ("Low", 20)]
    assert history[0].reason_detail == "funding"
    html = response.content.decode()
    assert "Priority history" in html and "(current)" in html
    assert html.index(">Medium<") < html.index(">Low<")


def test_an_account_never_scored_says_so_and_what_scores_it(
    sdr_client: Client, sdr_user: User
) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=1)

    html = sdr_client.get(account_url(account)).content.decode()

    assert "has no stored qualification yet" in html
    assert "nightly run" in html
    assert f"manage.py qualify_accounts --account {account.pk}" in html
    assert "Priority history" not in html and "Why this score" in html


def test_the_page_follows_the_scoring_service(sdr_client: Client, sdr_user: User) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=3)
    accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.MANUAL)
    stored = AccountQualification.objects.get(account=account, is_current=True)

    q = sdr_client.get(account_url(account)).context["d"].qualification

    assert (q.score, q.level) == (stored.score, stored.priority)
    assert [p.points for p in q.parts] == [p["points"] for p in stored.parts]
    assert sum(p.points for p in q.parts) == q.score
    assert q.reason == "Run by hand"


def test_the_thresholds_shown_are_the_admins(sdr_client: Client, sdr_user: User) -> None:
    account, _ = busy_account(rep=sdr_user.sales_rep, people=1)
    account_qualification_store(account)
    AccountScoringSettings.objects.update_or_create(
        pk=1, defaults={"high_threshold": 75, "medium_threshold": 40}
    )

    html = sdr_client.get(account_url(account)).content.decode()

    assert "High from 75" in html and "Medium from 40" in html
