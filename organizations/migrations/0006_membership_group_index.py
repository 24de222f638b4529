import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The membership's own group index goes: the (group, left_on) index serves every look-up by group."""

    dependencies = [("organizations", "0005_neighbourhood_former_ward")]

    operations = [
        migrations.AlterField(
            model_name="groupmembership",
            name="group",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="memberships",
                to="organizations.savingsgroup",
                verbose_name="group",
            ),
        ),
    ]
