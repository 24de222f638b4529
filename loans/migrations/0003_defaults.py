"""The default programs of DOMAIN.md and an example fee schedule; admins edit both afterwards."""

from django.db import migrations


def install(apps, schema_editor):
    from loans.defaults import install_defaults

    install_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("loans", "0002_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
