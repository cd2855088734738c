"""Let editors read article revisions and the feed error log (read-only: both are records)."""

from django.db import migrations

CODENAMES = ("view_articlerevision", "view_sourceerror")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure the new ones exist now.
    app_config = apps.get_app_config("news")
    app_config.models_module = True  # the migration state's stub lacks it
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="news", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Editors").first()
    if group:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="news", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("news", "0003_ingest_sources_and_revisions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
