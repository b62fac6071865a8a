"""RevOps acting on the model registry from the models page: activate, roll back, train now
(enqueued on commit, its status polled by an HTMX fragment)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dashboards.models import TrainingRun
from dashboards.selectors.revops import training_status
from scoring.models import ModelStatus, ModelVersion
from scoring.tasks import model_train_task
from tests.celery_worker import RunningWorker
from tests.dashboards.conftest import client_for
from tests.dashboards.revops_world import RevopsWorld, revops_world
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(demo_users: dict[str, User]) -> RevopsWorld:
    return revops_world(rep_user=demo_users["sdr"])


@pytest.fixture
def revops(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["revops"])


def _status(version: ModelVersion) -> str:
    version.refresh_from_db()
    return version.status


def test_activating_a_version_makes_it_the_active_one(
    world: RevopsWorld, revops: Client, demo_users: dict[str, User]
) -> None:
    response = revops.post(reverse("dashboards:revops-model-activate", args=[world.old.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:revops-models")
    assert _status(world.old) == ModelStatus.ACTIVE
    assert _status(world.current) == ModelStatus.RETIRED
    assert world.old.activated_by == demo_users["revops"]


def test_activating_from_htmx_returns_the_refreshed_registry(
    world: RevopsWorld, revops: Client
) -> None:
    response = revops.post(
        reverse("dashboards:revops-model-activate", args=[world.old.pk]),
        headers={**HTMX, "HX-Target": "registry"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="registry"')
    assert f"Model #{world.old.pk} is now active." in html
    assert f'<tr id="version-{world.old.pk}" class="version-active">' in html


def test_roll_back_reactivates_the_model_active_before(world: RevopsWorld, revops: Client) -> None:
    newer = ModelVersionFactory(status=ModelStatus.CANDIDATE, artifact=world.old.artifact)
    revops.post(reverse("dashboards:revops-model-activate", args=[newer.pk]))
    assert _status(newer) == ModelStatus.ACTIVE

    revops.post(reverse("dashboards:revops-model-rollback"))

    # Back to the one active before `newer`, not the older retired one.
    assert _status(world.current) == ModelStatus.ACTIVE
    assert _status(newer) == ModelStatus.RETIRED
    assert _status(world.old) == ModelStatus.RETIRED


def test_a_version_whose_artifact_cannot_load_is_refused_and_nothing_changes(
    world: RevopsWorld, revops: Client
) -> None:
    broken = ModelVersionFactory(status=ModelStatus.CANDIDATE, artifact=b"not a model")

    response = revops.post(
        reverse("dashboards:revops-model-activate", args=[broken.pk]), follow=True
    )

    assert "cannot be loaded" in response.content.decode()
    assert _status(broken) == ModelStatus.CANDIDATE
    assert _status(world.current) == ModelStatus.ACTIVE


def test_activating_an_unknown_version_is_404(world: RevopsWorld, revops: Client) -> None:
    response = revops.post(reverse("dashboards:revops-model-activate", args=[999999]))

    assert response.status_code == 404


def test_roll_back_without_an_earlier_model_says_so(revops: Client) -> None:
    response = revops.post(reverse("dashboards:revops-model-rollback"), follow=True)

    assert "no earlier active model" in response.content.decode()


def test_activation_is_post_only(world: RevopsWorld, revops: Client) -> None:
    response = revops.get(reverse("dashboards:revops-model-activate", args=[world.old.pk]))

    assert response.status_code == 405
    assert _status(world.old) == ModelStatus.RETIRED


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_others_cannot_roll_back_or_train(
    world: RevopsWorld, demo_users: dict[str, User], role: str
) -> None:
    client = client_for(demo_users[role])

    assert client.post(reverse("dashboards:revops-model-rollback")).status_code == 403
    assert client.post(reverse("dashboards:revops-train")).status_code == 403
    assert _status(world.current) == ModelStatus.ACTIVE
    assert not TrainingRun.objects.exists()


def test_train_now_enqueues_the_training_task_on_commit_and_the_status_shows_it(
    revops: Client,
    demo_users: dict[str, User],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Eager Celery (the test default): the task runs inline when the view's transaction
    # commits; with no labelled lead it stores no model and says why.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = revops.post(reverse("dashboards:revops-train"), headers=HTMX)

    assert response.status_code == 200
    assert len(callbacks) == 1
    run = TrainingRun.objects.get()
    assert run.requested_by == demo_users["revops"]
    assert run.inline_state == "SUCCESS"
    assert run.inline_result is not None and run.inline_result["model_version"] is None
    # The fragment answered before the task ran: it polls the run.
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="train-status"')
    assert reverse("dashboards:revops-train-status", args=[run.task_id]) in html

    status = revops.get(reverse("dashboards:revops-train-status", args=[run.task_id]), headers=HTMX)

    html = status.content.decode()
    assert status.status_code == 200
    assert "<html" not in html
    assert "Finished" in html
    assert 'value="100.0"' in html
    assert "No model trained" in html
    assert "hx-trigger" not in html  # finished: the poll stops


@pytest.mark.slow
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_trains_and_the_status_fragment_follows_it_to_the_end(
    live_celery_worker: RunningWorker, demo_users: dict[str, User]
) -> None:
    revops_world(rep_user=demo_users["sdr"])
    client = client_for(demo_users["revops"])
    run = TrainingRun.objects.create(task_id=str(uuid.uuid4()), requested_by=demo_users["revops"])
    model_train_task.apply_async(task_id=run.task_id, queue=live_celery_worker.queue)
    url = reverse("dashboards:revops-train-status", args=[run.task_id])

    seen: list[str] = []
    deadline = time.monotonic() + 120
    html = ""
    while time.monotonic() < deadline:
        html = client.get(url, headers=HTMX).content.decode()
        seen.append(training_status(run=run).state)
        if 'hx-trigger="every 2s"' not in html:
            break
        time.sleep(0.2)

    assert seen[-1] == "SUCCESS", live_celery_worker.log()
    assert set(seen) <= {"PENDING", "STARTED", "PROGRESS", "SUCCESS"}
    assert "Finished" in html
    assert 'value="100.0"' in html
    # 60 leads, 34 with an outcome: a model or a reason, either way said on the page.
    assert "Model #" in html or "No model trained" in html


def test_a_second_train_now_while_one_runs_is_refused(revops: Client) -> None:
    TrainingRun.objects.create(task_id="still-running")  # eager and not finished: pending

    response = revops.post(reverse("dashboards:revops-train"), follow=True)

    assert response.status_code == 200
    assert "A training run is already going" in response.content.decode()
    assert TrainingRun.objects.count() == 1


def test_train_status_of_an_unknown_run_is_404(revops: Client) -> None:
    response = revops.get(reverse("dashboards:revops-train-status", args=["nope"]), headers=HTMX)

    assert response.status_code == 404
