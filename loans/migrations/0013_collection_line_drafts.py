
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def mark_entered_drafts(apps, schema_editor):
    """Draft rows that already hold amounts were entered: only rows with nothing typed are asked about at posting."""
    CollectionLine = apps.get_model("loans", "CollectionLine")
    for line in CollectionLine.objects.filter(sheet__status="draft").filter(
        models.Q(amount_paid__gt=0) | models.Q(savings_in__gt=0) | models.Q(savings_out__gt=0)
    ).select_related("sheet"):
        line.entered_at = line.sheet.created_at
        line.save(update_fields=["entered_at"])


class Migration(migrations.Migration):

    dependencies = [
        ('loans', '0012_prepared_exports'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='collectionline',
            name='entered_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='entered at'),
        ),
        migrations.AddField(
            model_name='collectionline',
            name='entered_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='entered by'),
        ),
        migrations.AddField(
            model_name='collectionline',
            name='version',
            field=models.PositiveIntegerField(default=0, verbose_name='version'),
        ),
        migrations.RunPython(mark_entered_drafts, migrations.RunPython.noop),
    ]
