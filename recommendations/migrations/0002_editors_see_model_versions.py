"""Editors may view model versions (not change them): which version serves, and why a
retrain failed."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure ours exist now.
    app_config = apps.get_app_config("recommendations")
    app_config.models_module = True  # the migration state's stub lacks it
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        Permission.objects.get(
            content_type__app_label="recommendations", codename="view_modelversion"
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Editors"):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="recommendations", codename="view_modelversion"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0001_initial"),
        ("news", "0002_editors_group"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
