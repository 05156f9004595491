"""Keep PostgreSQL's statistics of the memberships and projects current.

Every read joins through these small tables. Autovacuum analyses a table only after 50 of
its rows changed: a server with a few dozen members would keep no statistics of them, and
the planner, guessing, then reads a large corpus document by document (a page of 500
annotations out of a million took a second instead of a millisecond). Each change now
makes them due for analysis, and they are analysed once here.
"""

from django.db import migrations

TABLES = ("projects_membership", "projects_project")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} SET (autovacuum_analyze_threshold = 1, "
            "autovacuum_analyze_scale_factor = 0)"
        )
        schema_editor.execute(f"ANALYZE {table}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} RESET (autovacuum_analyze_threshold, "
            "autovacuum_analyze_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_projects")]

    operations = [migrations.RunPython(forwards, backwards)]
