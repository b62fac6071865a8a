"""The admin of every model: it renders, it stays at a fixed number of queries per page, and the
read-only records stay read-only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.admin import EstimatedCountPaginator
from accounts.models import (
    Account,
    AccountEvent,
    AccountTechnology,
    IntentSignal,
    Lead,
    Opportunity,
    SalesforceSyncRun,
    SalesforceSyncState,
    Stakeholder,
    Touchpoint,
)
from accounts.services import api_token_issue
from routing.models import (
    ALTERNATIVE_PATHS,
    AccountPlay,
    Assignment,
    AssignmentEvent,
    PathDestination,
    PathDestinationKind,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesforcePushState,
    SalesRep,
    Territory,
    WebhookDelivery,
)
from scoring.models import (
    AccountQualification,
    AccountScoringSettings,
    AuditEvent,
    DisqualificationRule,
    Feedback,
    IdealCustomerProfile,
    LeadOverride,
    ModelVersion,
    PointRule,
    PositiveRule,
    Qualification,
    Resurfacing,
    ScoringSettings,
    TriggerRule,
)

PROJECT_APPS = ("accounts", "scoring", "routing")
PROJECT_MODELS = [
    model for label in PROJECT_APPS for model in apps.get_app_config(label).get_models()
]
# Written by services (training, qualification), never typed into a form.
NO_ADD_PAGE = {
    ModelVersion,
    AccountScoringSettings,
    AccountQualification,
    Qualification,
    ScoringSettings,
    RoutingSettings,
    AssignmentEvent,
    RoundRobinClock,
    RoundRobinCredit,
    # Written by the Salesforce sync only.
    SalesforceSyncState,
    SalesforceSyncRun,
    SalesforcePushState,
    # Made by routing with the assignment it tells of.
    WebhookDelivery,
    # TRIGGERS: one seeded row per trigger kind; resurfacings are written by the triggers.
    TriggerRule,
    Resurfacing,
    # OVERRIDES: the audit trail is written by the services, never by hand.
    AuditEvent,
    # Set by the account's stored qualification (routing/account_plays.py).
    AccountPlay,
}
# One-row models: the list goes straight to the row's change page.
SINGLETONS = {ScoringSettings, RoutingSettings, AccountScoringSettings}
LISTED_MODELS = [model for model in PROJECT_MODELS if model not in SINGLETONS]
ARTIFACT = b"PICKLED-MODEL-BYTES"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser_client(db: None) -> Client:
    user = User.objects.create_superuser(username="root", email="root@example.com", password="x")
    client = Client()
    client.force_login(user)
    return client


def build_world(count: int, *, start: int = 0) -> None:
    """`count` rows of every model, each row with its foreign keys filled in."""
    now = timezone.now()
    for i in range(start, start + count):
        user = User.objects.create_user(username=f"rep{i}", first_name="Rep", last_name=str(i))
        territory = Territory.objects.create(
            name=f"Territory {i}", regions=["EMEA"], countries=["DE"]
        )
        rep = SalesRep.objects.create(user=user, team=f"Team {i % 3}", skills=["fintech"])
        rep.territories.add(territory)
        pool = RoutingPool.objects.create(name=f"Pool {i}")
        pool.reps.add(rep)
        rule = RoutingRule.objects.create(
            name=f"Rule {i}",
            priority=i,
            tiers=["sales_ready"],
            territory=territory,
            industries=["Fintech"],
            min_employees=10,
            max_employees=1000,
            pool=pool,
        )
        account = Account.objects.create(
            name=f"Acme {i}", domain=f"acme{i}.com", owner=user, tech_stack=["salesforce"]
        )
        lead = Lead.objects.create(
            account=account, email=f"lead{i}@acme{i}.com", name=f"Lead {i}", owner=user
        )
        Stakeholder.objects.create(
            account=account, lead=lead, name=f"Lead {i}", committee_role="champion"
        )
        Touchpoint.objects.create(
            lead=lead,
            account=account,
            kind="page_view",
            page_category="pricing",
            occurred_at=now - timedelta(hours=i),
            external_id=f"tp-{i}",
            url="https://example.com/pricing",
        )
        IntentSignal.objects.create(
            account=account, topic="lead scoring", surge_score=2.5, observed_at=now
        )
        AccountEvent.objects.create(
            account=account, kind="funding", occurred_at=now, title="Series B"
        )
        AccountTechnology.objects.create(
            account=account, name="salesforce", first_seen=now, last_seen=now
        )
        Opportunity.objects.create(account=account, lead=lead, stage="discovery", amount=10_000)
        version = ModelVersion.objects.create(
            kind="conversion", artifact=ARTIFACT, metrics={"auc": 0.81}, activated_by=user
        )
        qualification = Qualification.objects.create(
            lead=lead,
            model_version=version,
            tier="sales_ready",
            confidence="high",
            conversion_probability=0.7,
            contributions={"pricing_visits": 0.4},
        )
        Feedback.objects.create(
            lead=lead, qualification=qualification, user=user, verdict="accept", reason="good_fit"
        )
        assignment = Assignment.objects.create(
            lead=lead,
            rep=rep,
            tier="sales_ready",
            rule=rule,
            pool=pool,
            reason="Rule matched",
            sla_due_at=now + timedelta(hours=4),
        )
        AssignmentEvent.objects.create(
            assignment=assignment, kind="sla_breach", by_user=user, message="SLA breached"
        )
        if i < len(ALTERNATIVE_PATHS):  # one destination per path
            kinds = list(PathDestinationKind)
            destination = PathDestination.objects.create(
                path=ALTERNATIVE_PATHS[i],
                kind=kinds[i % len(kinds)],
                salesforce_owner_id="00G5g0000000001AAA",
                webhook_url=f"https://hooks.example.com/{i}",
            )
            destination.members.add(user)
        WebhookDelivery.objects.create(
            assignment=assignment,
            path="community",
            url=f"https://hooks.example.com/{i}",
            body='{"event":"lead.path_assigned"}',
            attempts=1,
            last_status_code=200,
            status="delivered",
        )
        api_token_issue(name=f"Integration {i}", scope="read", created_by=user)
        RoundRobinClock.objects.create(key=f"pool:{pool.pk}", virtual_time=1.0, leads=i + 1)
        RoundRobinCredit.objects.create(key=f"pool:{pool.pk}", rep=rep, credit=0.5, leads=i + 1)
        SalesforceSyncState.objects.create(
            object_name=f"Object{i}", watermark=now, last_status="ok", last_counts={"updated": i}
        )
        SalesforceSyncRun.objects.create(
            direction="pull", status="ok", finished_at=now, counts={"Lead": {"created": i}}
        )
        SalesforcePushState.objects.create(lead=lead, pushed_tier="Sales Ready", pushed_at=now)
        Resurfacing.objects.create(
            lead=lead, trigger="company_change", evidence={"sentences": ["Funding round."]},
            previous_owner=user, routed_to=user, change="Nurture 20% → Sales Ready 45%",
        )  # fmt: skip
        PositiveRule.objects.create(
            name=f"VIP {i}", kind="vip_domain", domains=[f"vip{i}.example"], reason="VIP"
        )
        LeadOverride.objects.create(lead=lead, reason="Met at the conference", set_by=user)
        AuditEvent.objects.create(
            actor=user, action="lead_override.set", object_type="scoring.leadoverride",
            object_id=str(i), reason="Met at the conference",
        )  # fmt: skip
        IdealCustomerProfile.objects.create(
            name=f"ICP {i}", is_active=False, industries=["Fintech"]
        )
        DisqualificationRule.objects.create(
            name=f"Competitor {i}", category="competitor", reason_code=f"competitor-{i}"
        )
        PointRule.objects.create(
            name=f"Pricing {i}", signal="page_category", value="pricing", points=15
        )
    ScoringSettings.load()
    RoutingSettings.load()
    AccountScoringSettings.load()
    for account in Account.objects.order_by("pk")[:1]:
        AccountQualification.objects.get_or_create(
            account=account,
            is_current=True,
            defaults={"score": 40, "priority": "medium", "reason": "manual"},
        )
        AccountPlay.objects.get_or_create(
            account=account, defaults={"priority": "medium", "status": "nurture"}
        )


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _id(model: type[Model]) -> str:
    return model._meta.label


def test_every_project_model_has_an_admin() -> None:
    missing = [model._meta.label for model in PROJECT_MODELS if not admin.site.is_registered(model)]

    assert missing == []


@pytest.mark.django_db
def test_admin_site_is_branded(superuser_client: Client) -> None:
    html = superuser_client.get(reverse("admin:index")).content.decode()

    assert "leadqual administration" in html


@pytest.mark.django_db
@pytest.mark.parametrize("model", PROJECT_MODELS, ids=_id)
def test_changelist_change_and_add_pages_render(
    superuser_client: Client, model: type[Model]
) -> None:
    build_world(3)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None

    changelist = superuser_client.get(_url(model, "changelist"))
    if model in SINGLETONS:
        assert (changelist.status_code, changelist["Location"]) == (
            302,
            _url(model, "change", obj.pk),
        )
    else:
        assert changelist.status_code == 200
    assert superuser_client.get(_url(model, "change", obj.pk)).status_code == 200
    expected_add = 403 if model in NO_ADD_PAGE else 200
    assert superuser_client.get(_url(model, "add")).status_code == expected_add


@pytest.mark.django_db
@pytest.mark.parametrize("model", LISTED_MODELS, ids=_id)
def test_changelist_queries_do_not_grow_with_rows(
    superuser_client: Client, model: type[Model]
) -> None:
    build_world(1)
    url = _url(model, "changelist")
    superuser_client.get(url)  # Warm the session and content-type caches.
    with CaptureQueriesContext(connection) as one_row:
        assert superuser_client.get(url).status_code == 200

    build_world(19, start=1)
    with CaptureQueriesContext(connection) as twenty_rows:
        response = superuser_client.get(url)
        assert response.status_code == 200

    assert len(response.context["cl"].result_list) == model._default_manager.count()
    assert len(twenty_rows) == len(one_row), [q["sql"] for q in twenty_rows.captured_queries]


@pytest.mark.django_db
def test_model_version_pages_never_load_the_artifact(superuser_client: Client) -> None:
    build_world(2)
    version = ModelVersion.objects.defer("artifact").first()
    assert version is not None

    with CaptureQueriesContext(connection) as queries:
        changelist = superuser_client.get(_url(ModelVersion, "changelist"))
        change = superuser_client.get(_url(ModelVersion, "change", version.pk))

    for response in (changelist, change):
        assert response.status_code == 200
        assert ARTIFACT.decode() not in response.content.decode()
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    # The only mention of the column is the database measuring it.
    assert '"artifact"' not in re.sub(r'LENGTH\("scoring_modelversion"\."artifact"\)', "", sql)
    assert f"{len(ARTIFACT)}\xa0bytes" in change.content.decode()


@pytest.mark.django_db
def test_model_version_notes_are_the_only_editable_field(superuser_client: Client) -> None:
    build_world(1)
    version = ModelVersion.objects.defer("artifact").get()

    response = superuser_client.post(
        _url(ModelVersion, "change", version.pk),
        {"notes": "Beats v1 on the holdout.", "status": "active"},
    )

    assert response.status_code == 302
    version.refresh_from_db()
    assert version.notes == "Beats v1 on the holdout."
    assert version.status == "candidate"
    assert bytes(version.artifact) == ARTIFACT


@pytest.mark.django_db
def test_qualifications_are_read_only_even_for_a_superuser(superuser_client: Client) -> None:
    build_world(1)
    qualification = Qualification.objects.get()

    page = superuser_client.get(_url(Qualification, "change", qualification.pk))
    post = superuser_client.post(
        _url(Qualification, "change", qualification.pk), {"tier": "nurture"}
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "pricing_visits" in page.content.decode()
    assert post.status_code == 403
    qualification.refresh_from_db()
    assert qualification.tier == "sales_ready"


@pytest.mark.django_db
def test_lead_changelist_shows_the_current_tier(superuser_client: Client) -> None:
    build_world(1)

    html = superuser_client.get(_url(Lead, "changelist")).content.decode()

    assert "Sales Ready" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "term"),
    [
        (Touchpoint, "tp-4"),
        (Touchpoint, "LEAD4@acme4.com"),
        (Qualification, "lead4@acme4.com"),
        (Assignment, "Lead 4"),
        (Feedback, "lead4@acme4.com"),
        (Lead, "lead4@"),
    ],
    ids=lambda value: value if isinstance(value, str) else value._meta.label,
)
def test_search_finds_the_rows_of_one_lead(
    superuser_client: Client, model: type[Model], term: str
) -> None:
    build_world(6)
    lead = Lead.objects.get(email="lead4@acme4.com")

    response = superuser_client.get(_url(model, "changelist"), {"q": term})

    rows = list(response.context["cl"].result_list)
    assert len(rows) == 1
    assert (rows[0] if model is Lead else rows[0].lead) == lead


@pytest.mark.django_db
def test_routing_rule_form_takes_lists_as_commas_and_checkboxes(superuser_client: Client) -> None:
    build_world(1)
    pool = RoutingPool.objects.get()

    response = superuser_client.post(
        _url(RoutingRule, "add"),
        {
            "name": "Enterprise fintech",
            "priority": "5",
            "is_active": "on",
            "tiers": ["sales_ready", "nurture"],
            "industries": "Fintech, Banking ,, Fintech",
            "lead_sources": "",
            "languages": "EN, de",
            "pool": str(pool.pk),
            "strategy": "weighted_round_robin",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.get(name="Enterprise fintech")
    assert rule.tiers == ["sales_ready", "nurture"]
    assert rule.industries == ["Fintech", "Banking"]
    assert rule.lead_sources == []
    assert rule.languages == ["en", "de"]


@pytest.mark.django_db
def test_routing_rule_form_rejects_an_inverted_employee_range(superuser_client: Client) -> None:
    build_world(1)

    response = superuser_client.post(
        _url(RoutingRule, "add"),
        {
            "name": "Backwards",
            "priority": "5",
            "min_employees": "500",
            "max_employees": "50",
            "pool": str(RoutingPool.objects.get().pk),
            "strategy": "weighted_round_robin",
        },
    )

    assert response.status_code == 200
    assert "max_employees" in response.context["adminform"].form.errors
    assert not RoutingRule.objects.filter(name="Backwards").exists()


@pytest.mark.django_db
def test_a_sales_manager_edits_routing_in_the_admin_but_not_model_versions(db: None) -> None:
    build_world(1)
    manager = User.objects.create_user(username="morgan", is_staff=True)
    manager.groups.add(Group.objects.get(name="Sales manager"))
    client = Client()
    client.force_login(manager)
    rule = RoutingRule.objects.get()
    version = ModelVersion.objects.defer("artifact").get()

    assert client.get(_url(RoutingRule, "change", rule.pk)).status_code == 200
    assert 'name="_save"' in client.get(_url(RoutingRule, "change", rule.pk)).content.decode()
    version_page = client.get(_url(ModelVersion, "change", version.pk))
    assert version_page.status_code == 200
    assert 'name="_save"' not in version_page.content.decode()


@pytest.mark.django_db
def test_paginator_counts_filtered_lists_exactly() -> None:
    build_world(3)

    paginator = EstimatedCountPaginator(Touchpoint.objects.filter(external_id="tp-1"), 50)

    assert paginator.count == 1


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")
def test_paginator_takes_postgres_estimate_for_a_big_unfiltered_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import accounts.admin

    build_world(4)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Touchpoint._meta.db_table}")
    monkeypatch.setattr(accounts.admin, "EXACT_COUNT_BELOW", 1)

    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Touchpoint.objects.all(), 50).count

    assert count == 4
    assert "count(" not in " ".join(q["sql"] for q in queries.captured_queries).lower()
