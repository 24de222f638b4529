from datetime import date

from django.db import migrations


def install(apps, schema_editor):
    GradingCriteria = apps.get_model("organizations", "GradingCriteria")
    if not GradingCriteria.objects.exists():
        GradingCriteria.objects.create(
            name="Tiêu chí chấm điểm tổ (mặc định, quản trị viên sửa được)",
            valid_from=date(2020, 1, 1),
            overdue_weight=40,
            overdue_ratio_zero_at=5,
            interest_weight=30,
            savings_weight=15,
            meetings_weight=15,
        )


class Migration(migrations.Migration):
    dependencies = [("organizations", "0002_group_grades")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
