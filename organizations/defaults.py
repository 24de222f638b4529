"""Reference data the organizations app starts with: the 16/TD inspection checklist and the group grading criteria.
Admins edit both afterwards."""

from datetime import date

CHECKLIST_16TD = [
    ("group_meetings", "Tổ họp, sinh hoạt định kỳ theo quy định"),
    ("minutes_kept", "Lưu giữ biên bản họp tổ, biên bản bình xét (10A/TD, 10C/TD)"),
    ("list_03td", "Danh sách 03/TD đúng đối tượng, đúng số tiền được duyệt"),
    ("loan_use_checked", "Kiểm tra sử dụng vốn vay (06/TD), vốn dùng đúng mục đích"),
    ("collections_on_schedule", "Thu lãi, thu tiết kiệm đúng lịch, nộp đủ tại điểm giao dịch"),
    ("savings_recorded", "Tiết kiệm của tổ viên được ghi chép, đối chiếu đầy đủ"),
    ("leader_records", "Sổ sách, chứng từ của tổ trưởng (13/TD, biên lai 01/BL) đầy đủ, đúng quy định"),
    ("public_notice", "Niêm yết công khai tại điểm giao dịch xã, phường"),
]


def install_checklist(ChecklistItem):
    for position, (code, label) in enumerate(CHECKLIST_16TD, start=1):
        ChecklistItem.objects.get_or_create(code=code, defaults={"label": label, "position": position})


def install_grading_criteria(GradingCriteria):
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


def install_defaults(apps):
    """Idempotent; given historical models in migrations and the live registry in tests."""
    install_checklist(apps.get_model("organizations", "ChecklistItem"))
    install_grading_criteria(apps.get_model("organizations", "GradingCriteria"))
