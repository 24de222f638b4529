from django.db import migrations


def install(apps, schema_editor):
    from loans.defaults import install_default_programs

    install_default_programs(apps.get_model("loans", "LoanProgram"))


class Migration(migrations.Migration):
    dependencies = [("loans", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
