"""The default 16/TD inspection checklist and group grading criteria; admins edit both afterwards."""

from django.db import migrations


def install(apps, schema_editor):
    from organizations.defaults import install_defaults

    install_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
