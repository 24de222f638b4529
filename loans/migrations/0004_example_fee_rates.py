from datetime import date
from decimal import Decimal

from django.db import migrations

# EXAMPLE values only: no public source gives the current commission and entrustment-fee rates (DOMAIN.md).
# Admins replace them with the rates in the district's contract with the bank.
EXAMPLE_NAME = "VÍ DỤ – không phải biểu phí chính thức (example rates, not official)"


def install(apps, schema_editor):
    FeeSchedule = apps.get_model("loans", "FeeSchedule")
    FeeReduction = apps.get_model("loans", "FeeReduction")
    if FeeSchedule.objects.exists():
        return
    schedule = FeeSchedule.objects.create(
        name=EXAMPLE_NAME,
        valid_from=date(2020, 1, 1),
        is_example=True,
        commission_rate=Decimal("10"),
        branch_outstanding_rate=Decimal("0.03"),
        branch_interest_rate=Decimal("5"),
        district_outstanding_rate=Decimal("0.01"),
        district_interest_rate=Decimal("1"),
        note="Giá trị ví dụ để minh họa cách tính; quản trị viên thay bằng tỷ lệ theo hợp đồng ủy thác.",
    )
    for above, reduction in ((Decimal("1"), Decimal("20")), (Decimal("2"), Decimal("50")), (Decimal("5"), Decimal("100"))):
        FeeReduction.objects.create(schedule=schedule, overdue_ratio_above=above, reduction_percent=reduction)


def remove(apps, schema_editor):
    apps.get_model("loans", "FeeSchedule").objects.filter(name=EXAMPLE_NAME, is_example=True).delete()


class Migration(migrations.Migration):
    dependencies = [("loans", "0003_loan_changes_fees_checks")]

    operations = [migrations.RunPython(install, remove)]
