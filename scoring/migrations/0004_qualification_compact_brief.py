import django.db.models.deletion
from django.db import migrations, models

import scoring.models

# The lead's own index goes: qualification_lead_time_idx (lead, -computed_at) serves lookups by
# lead. Dropped by name: Django's AlterField(db_index=False) also drops every other index on
# lead_id, qualification_one_current among them.
LEAD_INDEX = "scoring_qualification_lead_id_ce96812d"


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_salesforce_sync_run_permission"),
        ("scoring", "0003_tier_threshold_defaults"),
    ]

    operations = [
        migrations.AlterField(
            model_name="qualification",
            name="brief",
            field=scoring.models.BriefField(blank=True, default=dict),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="qualification",
                    name="lead",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="qualifications",
                        to="accounts.lead",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{LEAD_INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX "{LEAD_INDEX}" ON "scoring_qualification" ("lead_id")'
                    ),
                ),
            ],
        ),
    ]
