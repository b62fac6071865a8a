from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadqual.progress import ProgressBar
from scoring import selectors, services
from scoring.ml.conversion import ConversionParams, NotEnoughData
from scoring.models import ModelKind


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class Command(BaseCommand):
    help = (
        "Train the conversion model on every lead with a known outcome (imported or generated), "
        "register it with its holdout metrics, and make it active if it beats the active model "
        "on the same holdout. Prints a metrics table, or JSON with --json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the metrics as JSON only.")
        parser.add_argument(
            "--activate",
            choices=["auto", "always", "never"],
            default="auto",
            help="auto: only if better than the active model (default).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed for splits and boosting.")
        parser.add_argument(
            "--single-holdout",
            action="store_true",
            help=(
                "Without usable dates, measure on the fixed 20%% holdout only instead of "
                "cross-validating it over every fold: a fifth of the time, a noisier AUC."
            ),
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when a conversion model is already active (for `make demo`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["json"]
        active = selectors.model_version_active(kind=ModelKind.CONVERSION)
        if options["if_missing"] and active is not None:
            self.stdout.write(f"Model version #{active.pk} is already active; not training.")
            return

        def say(message: str) -> None:
            if not as_json:
                self.stdout.write(f"… {message}")

        bar = None if as_json else ProgressBar(self.stdout, 0, "Computing features")
        try:
            result = services.model_train(
                params=ConversionParams(
                    seed=options["seed"], cross_validate_holdout=not options["single_holdout"]
                ),
                activate=options["activate"],
                progress=say,
                progress_rows=bar.update if bar else None,
            )
        except NotEnoughData as exc:
            raise CommandError(f"Not enough data to train: {exc}") from exc
        metrics = result.metrics
        if as_json:
            payload = {
                "model_version": result.version.pk,
                "activated": result.activated,
                "reason": result.reason,
                **{k: v for k, v in metrics.items() if k != "calibration_bins"},
                "calibration_bins": metrics.get("calibration_bins"),
            }
            self.stdout.write(json.dumps(services._jsonable(payload), indent=2, default=str))
            return
        at_capacity = metrics.get("at_capacity", {})
        baseline = metrics.get("baseline", {}).get("at_capacity", {})
        holdout = metrics.get("holdout", {})
        rows = [
            ("Holdout", f"{holdout.get('method', '?')} split, {holdout.get('rows', '?')} leads"),
            ("AUC", _fmt(metrics.get("auc"))),
        ]
        fold_aucs = holdout.get("fold_auc") or []
        if fold_aucs:
            rows.append(("AUC per fold", ", ".join(_fmt(a) for a in fold_aucs)))
        fixed = metrics.get("promotion_holdout") or {}
        if fixed:
            rows.append(
                (
                    "AUC, fixed holdout (first fold)",
                    f"{_fmt(fixed.get('auc'))} on {(fixed.get('holdout') or {}).get('rows', '?')} "
                    "leads; promotion compares on it",
                )
            )
        rows += [
            ("AUC, point score (same holdout)", _fmt(metrics.get("baseline_auc"))),
            ("Log loss", _fmt(metrics.get("log_loss"))),
            ("Brier score", _fmt(metrics.get("brier"))),
            ("Expected calibration error", _fmt(metrics.get("ece"))),
            ("Precision at capacity (model)", _fmt(at_capacity.get("precision"))),
            ("Precision at capacity (points)", _fmt(baseline.get("precision"))),
            (
                "Lift over point score at capacity",
                _fmt(metrics.get("lift_over_baseline_at_capacity"), 2),
            ),
            ("Recall at capacity", _fmt(at_capacity.get("recall"))),
        ]
        width = max(len(label) for label, _ in rows)
        self.stdout.write("")
        for label, value in rows:
            self.stdout.write(f"  {label:<{width}}  {value}")
        self.stdout.write("")
        state = "active" if result.activated else "candidate (not activated)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Model version #{result.version.pk} registered as {state}: {result.reason}."
            )
        )
