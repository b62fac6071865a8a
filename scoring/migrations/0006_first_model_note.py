"""The first model's promotion note read "no active model", shown beside its own "Active"
status on the RevOps models page; it now says what happened. Only the exact old note is
rewritten: a note a person edited stays as they wrote it."""

from __future__ import annotations

from typing import Any

from django.db import migrations

OLD = "no active model"
NEW = "the first model, promoted because none was active"


def forwards(apps: Any, schema_editor: Any) -> None:
    model_version = apps.get_model("scoring", "ModelVersion")
    model_version.objects.filter(notes=OLD, activated_at__isnull=False).update(notes=NEW)


def backwards(apps: Any, schema_editor: Any) -> None:
    model_version = apps.get_model("scoring", "ModelVersion")
    model_version.objects.filter(notes=NEW).update(notes=OLD)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0005_qualification_summaries_in_brief")]

    operations = [migrations.RunPython(forwards, backwards)]
