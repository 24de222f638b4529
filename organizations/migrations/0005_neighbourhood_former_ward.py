import django.db.models.deletion
from django.db import migrations, models


def fill_former_wards(apps, schema_editor):
    """Neighbourhoods moved by a merger before this field existed: the merged ward whose code begins theirs."""
    Ward = apps.get_model("organizations", "Ward")
    Neighbourhood = apps.get_model("organizations", "Neighbourhood")
    for old in Ward.objects.filter(merged_into__isnull=False).order_by("merged_on", "pk"):
        Neighbourhood.objects.filter(
            ward=old.merged_into_id, former_ward__isnull=True, code__startswith=old.code
        ).update(former_ward=old)


class Migration(migrations.Migration):

    dependencies = [
        ("organizations", "0004_ward_reorganisations"),
    ]

    operations = [
        migrations.AddField(
            model_name="neighbourhood",
            name="former_ward",
            field=models.ForeignKey(
                blank=True,
                help_text="Set by a ward merger; cleared when the neighbourhood is renamed.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="organizations.ward",
                verbose_name="former ward",
            ),
        ),
        migrations.RunPython(fill_former_wards, migrations.RunPython.noop),
    ]
