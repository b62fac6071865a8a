""" "Train now" shows a progress bar: the training task turns the service's stage lines and row
counts into Celery PROGRESS states with a stage and a percentage that only moves forward."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from scoring.tasks import _TrainProgress


class RecordingTask:
    """The two attributes of a bound Celery task the progress reporter uses."""

    def __init__(self, task_id: str | None) -> None:
        self.request = SimpleNamespace(id=task_id)
        self.states: list[dict[str, Any]] = []

    def update_state(self, *, state: str, meta: dict[str, Any]) -> None:
        self.states.append({"state": state, **meta})


def test_stages_and_rows_become_a_rising_percentage_with_the_stage_named():
    task = RecordingTask("task-1")
    progress = _TrainProgress(task)

    progress.stage_started("Building the training set")
    progress.rows_done(500, 1000)
    progress.rows_done(1000, 1000)
    progress.stage_started("Training on 1000 leads (120 converted)")
    progress.stage_started("Training timeline and deal-size ranges")

    percents = [s["percent"] for s in task.states]
    assert all(s["state"] == "PROGRESS" for s in task.states)
    assert percents == sorted(percents) and percents[0] == 2.0 and percents[-1] == 85.0
    assert task.states[1] == {
        "state": "PROGRESS",
        "stage": "Building the training set",
        "percent": 28.5,
    }
    assert task.states[-2]["stage"].startswith("Training on 1000 leads")


def test_the_folds_of_a_cross_validated_holdout_move_the_bar_within_the_training_stage():
    task = RecordingTask("task-2")
    progress = _TrainProgress(task)

    progress.stage_started("Training on 9240 leads (3561 converted)")
    progress.stage_started("Training the model (fold 1 of 5, the fixed holdout)")
    for fold in range(2, 6):
        progress.stage_started(f"Cross-validating the holdout (fold {fold} of 5)")
    progress.stage_started("Training timeline and deal-size ranges")

    percents = [s["percent"] for s in task.states]
    # 55% to 85% is the training stage: a fifth of it per fold.
    assert percents == [55.0, 55.0, 61.0, 67.0, 73.0, 79.0, 85.0]
    assert task.states[3]["stage"] == "Cross-validating the holdout (fold 3 of 5)"


def test_without_a_task_id_nothing_is_reported():
    task = RecordingTask(None)

    _TrainProgress(task).stage_started("Building the training set")

    assert task.states == []
