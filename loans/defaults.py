"""DOMAIN.md's default programs. They are data: admins edit rates and ceilings in the admin afterwards."""

from datetime import date
from decimal import Decimal

ALL_STATUSES = ["poor", "near_poor", "escaped", "other_policy", "none"]

DEFAULT_PROGRAMS = [
    # code, name, annual rate %, max amount, per month?, max term, eligible statuses, escaped within years
    ("01", "Cho vay hộ nghèo", Decimal("6.6"), 100_000_000, False, 120, ["poor"], None),
    (
        "02",
        "Cho vay học sinh sinh viên",
        Decimal("6.6"),
        4_000_000,
        True,
        120,
        ["poor", "near_poor", "escaped", "other_policy"],
        None,
    ),
    ("03", "Cho vay giải quyết việc làm", Decimal("7.92"), 100_000_000, False, 120, ALL_STATUSES, None),
    ("06", "Cho vay nước sạch và vệ sinh môi trường", Decimal("9"), 25_000_000, False, 60, ALL_STATUSES, None),
    ("07", "Cho vay hộ cận nghèo", Decimal("7.92"), 100_000_000, False, 120, ["near_poor"], None),
    ("08", "Cho vay hộ mới thoát nghèo", Decimal("8.25"), 100_000_000, False, 60, ["escaped"], 3),
    ("12", "Cho vay nhà ở xã hội", Decimal("6.6"), 1_000_000_000, False, 300, ALL_STATUSES, None),
]


def install_default_programs(LoanProgram):
    for code, name, rate, max_amount, per_month, max_term, statuses, escaped_years in DEFAULT_PROGRAMS:
        LoanProgram.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "annual_rate": rate,
                "overdue_multiplier": Decimal("1.30"),
                "max_amount": max_amount,
                "max_amount_per_month": per_month,
                "max_term_months": max_term,
                "eligible_statuses": statuses,
                "escaped_within_years": escaped_years,
            },
        )


# EXAMPLE values only: no public source gives the current commission and entrustment-fee rates (DOMAIN.md).
# Admins replace them with the rates in the district's contract with the bank.
EXAMPLE_FEE_NAME = "VÍ DỤ – không phải biểu phí chính thức (example rates, not official)"
EXAMPLE_FEE_REDUCTIONS = ((Decimal("1"), Decimal("20")), (Decimal("2"), Decimal("50")), (Decimal("5"), Decimal("100")))


def install_example_fees(FeeSchedule, FeeReduction):
    """An example fee schedule, only while none exists, so that the fee statements show how they are computed."""
    if FeeSchedule.objects.exists():
        return
    schedule = FeeSchedule.objects.create(
        name=EXAMPLE_FEE_NAME,
        valid_from=date(2020, 1, 1),
        is_example=True,
        commission_rate=Decimal("10"),
        branch_outstanding_rate=Decimal("0.03"),
        branch_interest_rate=Decimal("5"),
        district_outstanding_rate=Decimal("0.01"),
        district_interest_rate=Decimal("1"),
        note="Giá trị ví dụ để minh họa cách tính; quản trị viên thay bằng tỷ lệ theo hợp đồng ủy thác.",
    )
    for above, reduction in EXAMPLE_FEE_REDUCTIONS:
        FeeReduction.objects.create(schedule=schedule, overdue_ratio_above=above, reduction_percent=reduction)


def install_defaults(apps):
    """Everything the loans app needs before its first use; idempotent, and given historical models in migrations."""
    install_default_programs(apps.get_model("loans", "LoanProgram"))
    install_example_fees(apps.get_model("loans", "FeeSchedule"), apps.get_model("loans", "FeeReduction"))
