"""The default 16/TD group inspection checklist; admins can edit or extend it."""

from django.db import migrations

ITEMS = [
    ("group_meetings", "Tổ họp, sinh hoạt định kỳ theo quy định"),
    ("minutes_kept", "Lưu giữ biên bản họp tổ, biên bản bình xét (10A/TD, 10C/TD)"),
    ("list_03td", "Danh sách 03/TD đúng đối tượng, đúng số tiền được duyệt"),
    ("loan_use_checked", "Kiểm tra sử dụng vốn vay (06/TD), vốn dùng đúng mục đích"),
    ("collections_on_schedule", "Thu lãi, thu tiết kiệm đúng lịch, nộp đủ tại điểm giao dịch"),
    ("savings_recorded", "Tiết kiệm của tổ viên được ghi chép, đối chiếu đầy đủ"),
    ("leader_records", "Sổ sách, chứng từ của tổ trưởng (13/TD, biên lai 01/BL) đầy đủ, đúng quy định"),
    ("public_notice", "Niêm yết công khai tại điểm giao dịch xã, phường"),
]


def add_items(apps, schema_editor):
    ChecklistItem = apps.get_model("organizations", "ChecklistItem")
    for position, (code, label) in enumerate(ITEMS, start=1):
        ChecklistItem.objects.get_or_create(code=code, defaults={"label": label, "position": position})


def remove_items(apps, schema_editor):
    apps.get_model("organizations", "ChecklistItem").objects.filter(code__in=[code for code, _ in ITEMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("organizations", "0002_supervision_work")]

    operations = [migrations.RunPython(add_items, remove_items)]
