"""The loan-use to-do list (06/TD): new and dormant loans to check, groups to inspect this year."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F, Max
from django.db.models.functions import Coalesce, Greatest

from loans.calendar import working_calendar
from loans.models import GroupInspection, Loan, add_months
from organizations.models import SavingsGroup

#: A loan disbursed within this many days counts as new on the loan-use to-do list.
NEW_LOAN_WINDOW_DAYS = 180
#: Every new loan is checked within 30 days of disbursement (06/TD).
NEW_LOAN_CHECK_DAYS = 30
#: A loan with no transaction for this many months needs a check; the officer then has a month to do it.
DORMANT_MONTHS = 3
DORMANT_CHECK_DAYS = 30


@dataclass
class UseCheckTodo:
    reason: str
    due_on: date
    today: date
    loan: Loan | None = None
    group: object = None
    last_activity: date | None = None

    @property
    def is_overdue(self):
        return self.today > self.due_on


def loan_use_todo(*, branch_ids, today):
    """{"new_loans", "dormant_loans", "groups"}: what the ward branch still has to check, most urgent first."""
    open_loans = Loan.objects.filter(
        household__branch__in=branch_ids, status__in=(Loan.Status.ACTIVE, Loan.Status.FROZEN)
    ).select_related("household", "group", "program")
    new_loans = (
        open_loans.filter(disbursed_on__gte=today - timedelta(days=NEW_LOAN_WINDOW_DAYS), disbursed_on__lte=today)
        .exclude(use_checks__checked_on__gte=F("disbursed_on"))
        .order_by("disbursed_on", "number")
    )
    dormant_cutoff = add_months(today, -DORMANT_MONTHS)
    dormant = (
        open_loans.filter(principal_outstanding__gt=0)
        .annotate(last_posting=Max("postings__on"))
        .annotate(last_check=Max("use_checks__checked_on"))
        .annotate(
            last_activity=Greatest(Coalesce("last_posting", "disbursed_on"), Coalesce("last_check", "disbursed_on"))
        )
        .filter(last_activity__lte=dormant_cutoff)
        .order_by("last_activity", "number")
    )
    year_start = date(today.year, 1, 1)
    groups = (
        SavingsGroup.objects.filter(branch__in=branch_ids, status=SavingsGroup.Status.ACTIVE)
        .exclude(pk__in=GroupInspection.objects.filter(inspected_on__gte=year_start).values("group"))
        .annotate(last_inspection=Max("loan_use_inspections__inspected_on"))
        .select_related("branch")
        .order_by("code")
    )
    year_end = date(today.year, 12, 31)
    # A deadline that falls on a weekend or public holiday moves to the next working day, like a due date.
    deadline = working_calendar().on_or_after
    return {
        "new_loans": [
            UseCheckTodo("new", deadline(loan.disbursed_on + timedelta(days=NEW_LOAN_CHECK_DAYS)), today, loan=loan)
            for loan in new_loans
        ],
        "dormant_loans": [
            UseCheckTodo(
                "dormant",
                deadline(add_months(loan.last_activity, DORMANT_MONTHS) + timedelta(days=DORMANT_CHECK_DAYS)),
                today,
                loan=loan,
                last_activity=loan.last_activity,
            )
            for loan in dormant
        ],
        "groups": [
            UseCheckTodo("group", deadline(year_end), today, group=group, last_activity=group.last_inspection)
            for group in groups
        ],
    }
