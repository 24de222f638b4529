"""Scoped reads of requests, loans and postings, and the portfolio figures every report starts from."""

import calendar  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.db.models import (  # noqa: E402
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest  # noqa: E402
from django.utils import timezone

from loans.ledger import (
    ZERO,
    derived_portfolio,
    flow_postings,
    flow_sums,
    month_ends,
    net_amount,
    snapshot_span,
    with_derived_balances,
)
from loans.models import (  # noqa: E402
    FeeSchedule,
    GroupBalance,
    GroupInspection,
    GroupProgramBalance,
    Loan,
    LoanApplication,
    LoanChange,
    MonthlyBalance,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
    RepaymentInstalment,
    add_months,
)
from loans.money import round_vnd  # noqa: E402
from organizations.models import GroupMembership, SavingsGroup
from organizations.selectors import branch_scope


def loans_for(user):
    return Loan.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def applications_for(user):
    return LoanApplication.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def postings_for(user):
    return Posting.objects.filter(branch_scope(user, "household__branch")).select_related("loan", "household")


def portfolio_by_organization(*, on=None, loans=None):
    """{bank code: {"outstanding", "overdue", "households"}} from the ledger as of `on` (default: everything)."""
    loans = Loan.objects.all() if loans is None else loans
    rows = (
        with_derived_balances(loans, on)
        .filter(derived_outstanding__gt=0)
        .values(kind=F("group__branch__kind"))
        .annotate(
            outstanding=Sum("derived_outstanding"),
            overdue=Sum("derived_overdue"),
            households=Count("household", distinct=True),
        )
        .order_by("kind")
    )
    return {
        row["kind"]: {
            "outstanding": int(row["outstanding"]),
            "overdue": int(row["overdue"]),
            "households": row["households"],
        }
        for row in rows
    }


def review_meetings_for(user):
    from loans.models import ReviewMeeting

    return ReviewMeeting.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "recorded_by"
    )


# --- Capital allocations, approval queue and district overview ----------------------------------------------------


def loan_lists_for(user):
    from loans.models import LoanList

    return LoanList.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward", "meeting", "submitted_by"
    )


def allocations_for(user):
    from loans.models import CapitalAllocation

    return CapitalAllocation.objects.filter(branch_scope(user, "branch")).select_related(
        "plan", "plan__program", "plan__organization", "branch", "branch__ward", "proposed_by", "decided_by"
    )


def capital_plans_for(user):
    """Plans of the user's organization: district staff their own, ward officers their branch's parent."""
    from loans.models import CapitalPlan
    from organizations.access import Role, profile_of, role_of

    plans = CapitalPlan.objects.select_related("organization", "program")
    role = role_of(user)
    if role in (Role.ADMIN, Role.FRONT_SUPERVISOR):
        return plans
    profile = profile_of(user)
    if profile is None:
        return plans.none()
    if role == Role.DISTRICT_STAFF:
        return plans.filter(organization=profile.organization_id)
    return plans.filter(organization=profile.organization.parent_id)


def approval_queue(user):
    """Submitted 03/TD lists in scope with their pending requests' count and amounts, by ward and organization."""
    from loans.models import LoanList

    pending = Q(applications__status=LoanApplication.Status.SUBMITTED)
    return (
        loan_lists_for(user)
        .filter(status=LoanList.Status.SUBMITTED)
        .annotate(
            pending_count=Count("applications", filter=pending),
            pending_requested=Sum("applications__amount_requested", filter=pending),
            pending_group_approved=Sum("applications__amount_group_approved", filter=pending),
        )
        .order_by("group__branch__ward__code", "group__branch__kind", "submitted_at", "pk")
    )


def awaiting_disbursement(user):
    return (
        applications_for(user)
        .filter(status=LoanApplication.Status.APPROVED)
        .select_related("group__branch__ward", "loan_list")
        .order_by("group__branch__ward__code", "group__code", "household__search_name", "pk")
    )


def allocation_use(user, year):
    """Approved allocations of `year` in scope, with the district plan's figures."""
    from loans.models import CapitalAllocation

    return (
        allocations_for(user)
        .filter(plan__year=year, status=CapitalAllocation.Status.APPROVED)
        .order_by("branch__ward__code", "branch__kind", "plan__program__code")
    )


def requests_by_status(user):
    rows = (
        applications_for(user)
        .filter(status__in=LoanApplication.OPEN_STATUSES)
        .order_by()
        .values("status")
        .annotate(count=Count("pk"), requested=Sum("amount_requested"))
    )
    found = {row["status"]: row for row in rows}
    return [
        {
            "status": status,
            "label": LoanApplication.Status(status).label,
            "count": found.get(status, {}).get("count", 0),
            "requested": found.get(status, {}).get("requested") or 0,
        }
        for status in LoanApplication.OPEN_STATUSES
    ]


def disbursed_between(user, start, end):
    totals = loans_for(user).filter(disbursed_on__gte=start, disbursed_on__lte=end).aggregate(
        count=Count("pk"), amount=Sum("amount")
    )
    return {"count": totals["count"], "amount": totals["amount"] or 0}


def wards_for_queue(user):
    from organizations.selectors import wards_for

    return wards_for(user)


def collection_sheets_for(user):
    from loans.models import CollectionSheet

    return CollectionSheet.objects.filter(branch_scope(user, "group__branch")).select_related(
        "group", "group__branch", "group__branch__ward"
    )


def group_totals(group):
    """A group's figures from the cached balances of its current members: what the collection day changes."""
    from django.db.models import Q

    from borrowers.models import Household

    members = Household.objects.filter(memberships__group=group, memberships__left_on__isnull=True)
    open_loans = Loan.objects.filter(household__in=members.values("pk")).exclude(
        status__in=[Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF]
    )
    totals = open_loans.aggregate(
        outstanding=Sum("principal_outstanding", default=0),
        overdue=Sum("overdue_principal", default=0),
        arrears=Sum("interest_arrears", default=0),
        households=Count("household", distinct=True, filter=Q(principal_outstanding__gt=0)),
    )
    totals["savings"] = members.aggregate(savings=Sum("savings_balance", default=0))["savings"]
    totals["members"] = members.count()
    outstanding = totals["outstanding"]
    totals["overdue_ratio"] = (totals["overdue"] * 100 / outstanding) if outstanding else 0
    return totals


# --- Loan changes, loan-use checks and monthly fee statements ----------------------------------------------------


INTEREST_KINDS = (Posting.Kind.INTEREST, Posting.Kind.OVERDUE_INTEREST)
#: A loan disbursed within this many days counts as new on the loan-use to-do list.
NEW_LOAN_WINDOW_DAYS = 180
#: Every new loan is checked within 30 days of disbursement (06/TD).
NEW_LOAN_CHECK_DAYS = 30
#: A loan with no transaction for this many months needs a check; the officer then has a month to do it.
DORMANT_MONTHS = 3
DORMANT_CHECK_DAYS = 30


def changes_for(user):
    return LoanChange.objects.filter(branch_scope(user, "loan__household__branch")).select_related(
        "loan", "loan__household", "loan__program", "instalment", "requested_by", "decided_by"
    )


def month_bounds(month):
    """First and last day of the month containing `month`."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


# Loan-use to-do list (06/TD) ----------------------------------------------------------------------------------


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
    from organizations.models import SavingsGroup

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
    return {
        "new_loans": [
            UseCheckTodo("new", loan.disbursed_on + timedelta(days=NEW_LOAN_CHECK_DAYS), today, loan=loan)
            for loan in new_loans
        ],
        "dormant_loans": [
            UseCheckTodo(
                "dormant",
                add_months(loan.last_activity, DORMANT_MONTHS) + timedelta(days=DORMANT_CHECK_DAYS),
                today,
                loan=loan,
                last_activity=loan.last_activity,
            )
            for loan in dormant
        ],
        "groups": [
            UseCheckTodo("group", year_end, today, group=group, last_activity=group.last_inspection)
            for group in groups
        ],
    }


# Monthly commission and entrustment-fee statements --------------------------------------------------------------

MONEY = DecimalField(max_digits=18, decimal_places=0)


def schedule_for(month):
    """The rate table in force on the month's last day, with its reductions."""
    _first, last = month_bounds(month)
    return (
        FeeSchedule.objects.filter(valid_from__lte=last)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=last))
        .prefetch_related("reductions")
        .order_by("-valid_from", "-pk")
        .first()
    )


def interest_collected(*, start, end, owner):
    """{owner id: interest and overdue interest posted in [start, end], less reversals of such postings}.

    `owner` is a path from a loan, e.g. "group" or "household__branch".
    """
    rows = (
        Posting.objects.filter(on__gte=start, on__lte=end)
        .filter(Q(kind__in=INTEREST_KINDS) | Q(kind=Posting.Kind.REVERSAL, reverses__kind__in=INTEREST_KINDS))
        .annotate(owner=Coalesce(f"loan__{owner}", f"reverses__loan__{owner}"))
        .values("owner")
        .annotate(
            total=Sum(
                Case(When(kind=Posting.Kind.REVERSAL, then=-F("amount")), default=F("amount"), output_field=MONEY)
            )
        )
        .order_by()
    )
    return {row["owner"]: int(row["total"] or 0) for row in rows}


def balances_at(*, on, owner, loans=None):
    """{owner id: (outstanding, overdue)} as of `on` from postings; loans written off by then are left out.

    Outstanding is one GROUP BY over the postings; the per-loan overdue rule only runs for loans with an
    overdue instalment, so a whole district stays quick.
    """
    loans = Loan.objects.all() if loans is None else loans
    loans = loans.filter(disbursed_on__lte=on).exclude(
        pk__in=LoanChange.objects.filter(
            kind=LoanChange.Kind.WRITE_OFF, status=LoanChange.Status.APPROVED, decided_on__lte=on
        ).values("loan")
    )
    Kind = Posting.Kind
    signed = Case(
        When(kind=Kind.DISBURSEMENT, then=F("amount")),
        When(kind=Kind.PRINCIPAL, then=-F("amount")),
        When(kind=Kind.REVERSAL, reverses__kind=Kind.DISBURSEMENT, then=-F("amount")),
        When(kind=Kind.REVERSAL, reverses__kind=Kind.PRINCIPAL, then=F("amount")),
        default=Value(0),
        output_field=MONEY,
    )
    outstanding = (
        Posting.objects.filter(on__lte=on, loan__in=loans)
        .values(owner=F(f"loan__{owner}"))
        .annotate(total=Sum(signed))
        .order_by()
    )
    overdue_loans = loans.filter(
        pk__in=RepaymentInstalment.objects.filter(overdue_since__lte=on).values("loan")
    )
    overdue = (
        with_derived_balances(overdue_loans, on)
        .values(owner=F(owner))
        .annotate(total=Sum("derived_overdue"))
        .order_by()
    )
    result = {row["owner"]: (int(row["total"] or 0), 0) for row in outstanding}
    for row in overdue:
        result[row["owner"]] = (result.get(row["owner"], (0, 0))[0], int(row["total"] or 0))
    return result


def percent_of(amount, rate):
    return round_vnd(Decimal(amount) * Decimal(rate) / 100)


@dataclass
class StatementLine:
    name: str
    code: str = ""
    extra: str = ""
    outstanding: int = 0
    overdue: int = 0
    interest: int = 0
    ratio: Decimal = Decimal("0.00")
    fee_on_outstanding: Decimal = Decimal(0)
    fee_on_interest: Decimal = Decimal(0)
    reduction_percent: Decimal = Decimal(0)
    reduction: Decimal = Decimal(0)
    level: str = ""
    children: list = field(default_factory=list)

    @property
    def gross(self):
        return self.fee_on_outstanding + self.fee_on_interest

    @property
    def net(self):
        return self.gross - self.reduction

    def apply_reduction(self, schedule):
        self.reduction_percent = schedule.reduction_for(self.ratio)
        self.reduction = percent_of(self.gross, self.reduction_percent)


def commission_statement(*, month, groups, schedule):
    """One line per group: interest its leader collected in the month, and the commission on it."""
    start, end = month_bounds(month)
    groups = list(groups.select_related("leader", "branch"))
    ids = [g.pk for g in groups]
    interest = interest_collected(start=start, end=end, owner="group")
    balances = balances_at(on=end, owner="group", loans=Loan.objects.filter(group__in=ids))
    lines = []
    for group in groups:
        outstanding, overdue = balances.get(group.pk, (0, 0))
        line = StatementLine(
            name=group.name, code=group.code, extra=str(group.leader or ""), outstanding=outstanding,
            overdue=overdue, interest=interest.get(group.pk, 0), ratio=overdue_ratio(overdue, outstanding) or Decimal("0.00"),
        )
        line.fee_on_interest = percent_of(line.interest, schedule.commission_rate)
        line.apply_reduction(schedule)
        lines.append(line)
    return [line for line in lines if line.interest or line.outstanding]


def fee_statement(*, month, branches, schedule, with_districts):
    """One line per ward branch, then (for district staff and above) one line per district body."""
    start, end = month_bounds(month)
    branches = list(branches.select_related("ward", "parent"))
    ids = [b.pk for b in branches]
    interest = interest_collected(start=start, end=end, owner="household__branch")
    balances = balances_at(on=end, owner="household__branch", loans=Loan.objects.filter(household__branch__in=ids))
    lines, districts = [], {}
    for branch in branches:
        outstanding, overdue = balances.get(branch.pk, (0, 0))
        line = StatementLine(
            name=branch.name, code=branch.ward.code, extra=branch.get_kind_display(), level="ward",
            outstanding=outstanding, overdue=overdue, interest=interest.get(branch.pk, 0),
            ratio=overdue_ratio(overdue, outstanding) or Decimal("0.00"),
        )
        line.fee_on_outstanding = percent_of(outstanding, schedule.branch_outstanding_rate)
        line.fee_on_interest = percent_of(line.interest, schedule.branch_interest_rate)
        line.apply_reduction(schedule)
        lines.append(line)
        if with_districts:
            district = districts.setdefault(
                branch.parent_id,
                StatementLine(name=branch.parent.name, code=branch.kind, extra=branch.get_kind_display(),
                              level="district"),
            )
            district.outstanding += outstanding
            district.overdue += overdue
            district.interest += line.interest
    for district in districts.values():
        district.ratio = overdue_ratio(district.overdue, district.outstanding) or Decimal("0.00")
        district.fee_on_outstanding = percent_of(district.outstanding, schedule.district_outstanding_rate)
        district.fee_on_interest = percent_of(district.interest, schedule.district_interest_rate)
        district.apply_reduction(schedule)
    lines = [line for line in lines if line.interest or line.outstanding]
    return lines, list(districts.values())


# ---- the bank's layouts, for export ------------------------------------------------------------------------------


def bank_export_rows(kind, user):
    """Rows in the bank's layout (see loans/resources.py) for what `user` may see; re-importing them changes nothing."""
    from django.db.models import Prefetch

    from borrowers.selectors import households_for
    from loans.resources import KIND_LABELS
    from organizations.access import personal
    from organizations.models import GroupMembership
    from organizations.selectors import groups_for

    if kind == "loans":
        loans = (
            loans_for(user)
            .select_related("group__branch__ward", "group__leader", "household")
            .order_by("group__branch__ward__code", "group__code", "household__customer_code", "number")
        )
        savings_written = set()
        for seq, loan in enumerate(loans.iterator(chunk_size=5000), start=1):
            household = loan.household
            # The bank's savings column adds up per household: write it once, on the household's first loan.
            savings = 0
            if household.pk not in savings_written:
                savings_written.add(household.pk)
                savings = int(household.savings_balance)
            frozen = loan.principal_outstanding if loan.status == Loan.Status.FROZEN else 0
            yield [
                seq, loan.group.branch.ward.code, loan.group.branch.ward.name, loan.group.branch.kind, loan.group.code,
                loan.group.leader.head_name if loan.group.leader else "",
                household.customer_code or "",
                household.head_name,
                personal(household.citizen_id, user), loan.program.code, loan.number, loan.disbursed_on, loan.maturity_on,
                int(loan.amount), int(loan.principal_outstanding), int(loan.overdue_principal), int(frozen),
                int(loan.interest_arrears), savings,
            ]
    elif kind == "transactions":
        postings = postings_for(user).exclude(kind=Posting.Kind.REVERSAL).filter(reversed_by__isnull=True)
        for posting in postings.order_by("on", "pk").iterator(chunk_size=5000):
            yield [
                posting.on, posting.voucher or f"UT{posting.pk:010d}", posting.loan.number if posting.loan else "",
                posting.household.customer_code or "", KIND_LABELS[posting.kind], int(posting.amount), posting.note,
            ]
    elif kind == "groups":
        from loans.models import BankGroupGrade

        groups = groups_for(user).select_related("leader").prefetch_related(
            Prefetch("bank_grades", queryset=BankGroupGrade.objects.order_by("-on", "-pk"))
        )
        counts = dict(
            GroupMembership.objects.filter(left_on__isnull=True)
            .values("group")
            .annotate(n=Count("pk"))
            .values_list("group", "n")
        )
        grade_labels = {"good": "Tốt", "fair": "Khá", "average": "Trung bình", "weak": "Yếu"}
        for group in groups.order_by("code"):
            grade = next(iter(group.bank_grades.all()), None)
            yield [
                group.code, group.name, group.branch.ward.code, group.branch.kind,
                group.leader.head_name if group.leader else (grade.leader_name if grade else ""),
                counts.get(group.pk, 0),
                grade.score if grade else None,
                grade_labels.get(grade.grade, "") if grade else "",
            ]
    elif kind == "households":
        households = households_for(user).prefetch_related(
            Prefetch(
                "memberships",
                queryset=GroupMembership.objects.filter(left_on__isnull=True).select_related("group"),
            )
        )
        for seq, household in enumerate(households.order_by("ward__code", "search_name"), start=1):
            membership = next(iter(household.memberships.all()), None)
            yield [
                seq, household.customer_code or "", household.head_name, personal(household.citizen_id, user),
                household.ward.code,
                household.ward.name, household.branch.kind, membership.group.code if membership else "",
                household.address, household.get_policy_status_display(), int(household.savings_balance),
            ]


def user_can_import(user):
    """Admins, and users given the import permission."""
    from organizations.access import Role, role_of

    return user.is_authenticated and (role_of(user) == Role.ADMIN or user.has_perm("loans.import_bank_files"))


def import_batches_for(user):
    from loans.models import ImportBatch

    return ImportBatch.objects.all() if user_can_import(user) else ImportBatch.objects.none()


# --- Dashboard and report figures -------------------------------------------------------------------------------
# Every dashboard and report figure comes from `portfolio_report`. For today (with no postings dated later) it reads
# the per-group summaries kept by `refresh_loan_balances`; for another date it reads the snapshots (the last month
# end before the date plus the day changes since), and only before the first snapshot does it derive the figures from
# the postings. All three give the same figures in a handful of aggregate queries.

#: Breakdown dimensions, as paths from a model with a `group` foreign key.
DIMENSIONS = {
    "kind": "group__branch__kind",
    "ward": "group__branch__ward",
    "branch": "group__branch",
    "program": "program",
    "group": "group",
}
AMOUNTS = ("outstanding", "overdue", "frozen", "interest_arrears")
FLOWS = ("lent_month", "lent_year", "collected_month", "collected_year")
GRADES = ("good", "fair", "average", "weak")


def uses_cached_balances(on):
    """True when figures as of `on` may come from the cached balances: `on` is today and nothing is posted later."""
    today = timezone.localdate()
    return on == today and not Posting.objects.filter(on__gt=today).exists()


def _dim_values(by, prefix=""):
    """values() keyword arguments that name each dimension `d_<name>` (avoids clashes with model fields)."""
    paths = {}
    for name in by:
        path = DIMENSIONS[name]
        if prefix == "groups:":
            path = "pk" if path == "group" else path.removeprefix("group__")
        else:
            path = prefix + path
        paths[f"d_{name}"] = F(path)
    return paths


def _filters(user, prefix, *, organization=None, ward=None):
    """Scope Q over the branch reached by `prefix` ("group__branch", "loan__group__branch", "branch")."""
    q = branch_scope(user, prefix)
    if organization:
        q &= Q(**{f"{prefix}__kind": organization})
    if ward:
        q &= Q(**{f"{prefix}__ward": ward})
    return q


def _key(row, by):
    return tuple(row[f"d_{name}"] for name in by)


def _grouped(queryset, by, prefix="", **aggregates):
    """{key: row} of `aggregates` per combination of the `by` dimensions (one row keyed () when by is empty)."""
    if not by:
        return {(): queryset.aggregate(**aggregates)}
    rows = queryset.values(**_dim_values(by, prefix)).annotate(**aggregates)
    return {_key(row, by): row for row in rows}


def _amounts_cached(user, by, on, **filters):
    scope = _filters(user, "group__branch", **filters)
    result = _grouped(
        GroupProgramBalance.objects.filter(scope).order_by(),
        by,
        loans=Sum("loans"),
        households=Sum("households"),
        **{name: Sum(name) for name in AMOUNTS},
        **_cached_flows(on),
    )
    if "program" in by:
        # Savings belong to households, not programs; households are counted per program.
        return result
    groups = _grouped(
        GroupBalance.objects.filter(scope).order_by(), by, households=Sum("households"), savings=Sum("savings")
    )
    for key, row in groups.items():
        entry = result.setdefault(key, {})
        entry["households"] = row["households"]
        entry["savings"] = row["savings"]
    return result


def snapshot_month_end(on):
    """The last snapshot month end before `on`, or None when the snapshots do not cover `on` (one query)."""
    first, last = snapshot_span()
    if first is None or on <= first:
        return None
    return min(last, on.replace(day=1) - timedelta(days=1))


SNAPSHOT_AMOUNTS = ("loans", "outstanding", "overdue", "frozen", "interest_arrears")


def _snapshot_rows(queryset, by, **aggregates):
    """{(key, whole): row}: `whole` is 1 for a group's own rows (households across programs, savings)."""
    whole = Case(When(program__isnull=True, then=Value(1)), default=Value(0))
    if "program" in by:
        queryset = queryset.filter(program__isnull=False)
    rows = queryset.values(**_dim_values(by), d_whole=whole).annotate(**aggregates)
    return {(_key(row, by), row["d_whole"]): row for row in rows}


def _amounts_from_snapshots(user, by, on, month_end, **filters):
    """Figures as of `on`: the month end's rows plus the day changes after it, two aggregate queries."""
    scope = _filters(user, "group__branch", **filters)
    figures = (*SNAPSHOT_AMOUNTS, "households", "savings")
    base = _snapshot_rows(
        PortfolioMonthEnd.objects.filter(scope, month_end=month_end).order_by(),
        by,
        **{name: Sum(name) for name in (*figures, "lent_year", "collected_year")},
    )
    month_start, year_start = on.replace(day=1), on.replace(month=1, day=1)
    changes = _snapshot_rows(
        PortfolioDayChange.objects.filter(scope, on__gt=month_end, on__lte=on).order_by(),
        by,
        **{name: Sum(name) for name in figures},
        lent_month=Sum("lent", filter=Q(on__gte=month_start)),
        collected_month=Sum("collected", filter=Q(on__gte=month_start)),
        lent_year=Sum("lent", filter=Q(on__gte=year_start)),
        collected_year=Sum("collected", filter=Q(on__gte=year_start)),
    )
    same_year = month_end.year == on.year
    result = {}
    for source, rows in (("base", base), ("changes", changes)):
        for (key, whole), row in rows.items():
            entry = result.setdefault(key, {})
            if whole:
                names = ("households", "savings")
            else:
                names = (*SNAPSHOT_AMOUNTS, *(("households",) if "program" in by else ()), "lent_year", "collected_year")
                if source == "changes":
                    names = (*names, "lent_month", "collected_month")
                elif not same_year:
                    names = tuple(n for n in names if n not in ("lent_year", "collected_year"))
            for name in names:
                entry[name] = entry.get(name, 0) + (row[name] or 0)
    return result


def _savings_on(on):
    postings = Posting.objects.filter(household=OuterRef("household"), on__lte=on)
    total = (
        postings.order_by()
        .values("household")
        .annotate(total=Sum(net_amount(Posting.Kind.SAVINGS_IN)) - Sum(net_amount(Posting.Kind.SAVINGS_OUT)))
        .values("total")
    )
    return Coalesce(Subquery(total), ZERO)


def _amounts_from_ledger(user, by, on, **filters):
    scope = _filters(user, "group__branch", **filters)
    result = derived_portfolio(Loan.objects.filter(scope), on, by)
    if "program" in by:
        return result
    # Savings of the households now in a group, from their savings postings: one join, no per-household subquery.
    member = "household__memberships__"
    savings_kinds = (Posting.Kind.SAVINGS_IN, Posting.Kind.SAVINGS_OUT)
    postings = Posting.objects.filter(
        _filters(user, f"{member}group__branch", **filters),
        Q(kind__in=savings_kinds) | Q(kind=Posting.Kind.REVERSAL, reverses__kind__in=savings_kinds),
        **{f"{member}left_on__isnull": True},
        on__lte=on,
    ).order_by()
    savings = _grouped(
        postings,
        by,
        member,
        savings=Sum(net_amount(Posting.Kind.SAVINGS_IN)) - Sum(net_amount(Posting.Kind.SAVINGS_OUT)),
    )
    for key, row in savings.items():
        result.setdefault(key, {})["savings"] = row["savings"]
    return result


def _flows(user, by, on, **filters):
    """Lending and collections in on's month and year, from the postings (for a date other than today)."""
    postings = flow_postings(Posting.objects.filter(_filters(user, "loan__group__branch", **filters)), on)
    return _grouped(postings, by, "loan__", **flow_sums(on.replace(day=1)))


def _cached_flows(on):
    """Sums of the refreshed month and year flows, counting a row's month (year) only if it is on's month (year)."""
    this_month = Q(flows_on__gte=on.replace(day=1))
    this_year = Q(flows_on__gte=on.replace(month=1, day=1))
    return {
        name: Sum(Case(When(period, then=F(name)), default=ZERO))
        for name, period in (
            ("lent_month", this_month),
            ("lent_year", this_year),
            ("collected_month", this_month),
            ("collected_year", this_year),
        )
    }


def _group_counts(user, by, **filters):
    if "program" in by:
        return {}
    groups = SavingsGroup.objects.filter(_filters(user, "branch", **filters), status=SavingsGroup.Status.ACTIVE)
    return {key: row["groups"] for key, row in _grouped(groups.order_by(), by, "groups:", groups=Count("pk")).items()}


def group_grade_counts(*, user, on, by=(), organization=None, ward=None):
    """{key: {"good", "fair", "average", "weak"}}: groups by their latest grade up to on's month, in one query."""
    from organizations.models import GroupGrade

    if "program" in by:  # a group's grade is not split by program
        return {}
    month = on.replace(day=1)
    latest = GroupGrade.objects.filter(group=OuterRef("group"), month__lte=month).order_by("-month").values("month")[:1]
    grades = GroupGrade.objects.filter(_filters(user, "group__branch", organization=organization, ward=ward)).filter(
        month__lte=month, month=Subquery(latest)
    )
    counts = {grade: Count("pk", filter=Q(grade=grade)) for grade in GRADES}
    if not by:
        return {(): grades.aggregate(**counts)}
    rows = grades.order_by().values(**_dim_values(by)).annotate(**counts)
    return {_key(row, by): row for row in rows}


def portfolio_report(*, user, on, by=(), organization=None, ward=None):
    """Rows of figures as of `on` within the user's scope, one per combination of the `by` dimensions.

    Each row has `key` (the dimension values), the amounts (outstanding, overdue, frozen, interest_arrears, savings),
    loans, households, groups, the month's and year's flows and the group grade counts, as whole numbers.
    With by=() there is one row: the totals.
    """
    by = tuple(by)
    filters = {"organization": organization, "ward": ward}
    if uses_cached_balances(on):
        amounts = _amounts_cached(user, by, on, **filters)
        flows = amounts
    elif month_end := snapshot_month_end(on):
        amounts = _amounts_from_snapshots(user, by, on, month_end, **filters)
        flows = amounts
    else:
        amounts = _amounts_from_ledger(user, by, on, **filters)
        flows = _flows(user, by, on, **filters)
    groups = _group_counts(user, by, **filters)
    grades = group_grade_counts(user=user, on=on, by=by, **filters)
    keys = set(amounts) | set(flows) | set(groups)
    if not by:
        keys = {()}
    rows = []
    for key in keys:
        amount, flow, grade = amounts.get(key, {}), flows.get(key, {}), grades.get(key, {})
        row = {"key": key, **dict(zip(by, key, strict=True))}
        for name in (*AMOUNTS, "savings", "loans", "households"):
            row[name] = int(amount.get(name) or 0)
        for name in FLOWS:
            row[name] = int(flow.get(name) or 0)
        for name in GRADES:
            row[name] = int(grade.get(name) or 0)
        row["groups"] = groups.get(key, 0)
        row["overdue_ratio"] = overdue_ratio(row["overdue"], row["outstanding"])
        rows.append(row)
    return rows


def overdue_ratio(overdue, outstanding):
    """Overdue ÷ outstanding in percent, as a Decimal with two places (None when nothing is outstanding)."""
    if not outstanding:
        return None
    return (Decimal(overdue) * 100 / Decimal(outstanding)).quantize(Decimal("0.01"))


ADDITIVE = (*AMOUNTS, "savings", "loans", "households", *FLOWS, *GRADES, "groups")


def portfolio_totals(*, user, on, organization=None, ward=None, by_kind=None):
    """The totals row. From cached balances and snapshots every figure adds up across organizations (households are
    counted per group), so rows already fetched by organization can be summed instead of querying again."""
    if by_kind is not None and (uses_cached_balances(on) or snapshot_month_end(on)):
        total = {"key": (), **{name: sum(row[name] for row in by_kind) for name in ADDITIVE}}
        total["overdue_ratio"] = overdue_ratio(total["overdue"], total["outstanding"])
        return total
    return portfolio_report(user=user, on=on, organization=organization, ward=ward)[0]


def portfolio_trend(*, user, today, organization=None, ward=None, current=None):
    """Outstanding and overdue per organization at the last 12 month ends (from MonthlyBalance) and today.

    `current` may pass today's rows by organization when the caller already has them.
    """
    ends = month_ends(today)
    rows = (
        MonthlyBalance.objects.filter(
            _filters(user, "branch", organization=organization, ward=ward), month_end__in=ends
        )
        .order_by()
        .values("month_end", kind=F("branch__kind"))
        .annotate(outstanding=Sum("outstanding"), overdue=Sum("overdue"))
    )
    points = {(row["month_end"], row["kind"]): row for row in rows}
    if current is None:
        current = portfolio_report(user=user, on=today, by=("kind",), organization=organization, ward=ward)
    for row in current:
        points[today, row["kind"]] = row
    kinds = sorted({kind for _day, kind in points})
    days = [*ends, today]
    series = []
    for kind in kinds:
        values = [points.get((day, kind), {}) for day in days]
        series.append(
            {
                "kind": kind,
                "outstanding": [int(v.get("outstanding") or 0) for v in values],
                "overdue": [int(v.get("overdue") or 0) for v in values],
            }
        )
    return {"days": days, "series": series}


def label_rows(rows, by):
    """Add readable names for each dimension (one query per dimension) and sort the rows by their codes."""
    from loans.models import LoanProgram
    from organizations.models import Organization, Ward

    kinds = dict(Organization.Kind.choices)
    lookups = {}
    if "ward" in by:
        lookups["ward"] = {w.pk: w for w in Ward.objects.filter(pk__in={r["ward"] for r in rows})}
    if "program" in by:
        lookups["program"] = {p.pk: p for p in LoanProgram.objects.filter(pk__in={r["program"] for r in rows})}
    if "group" in by:
        lookups["group"] = {
            g.pk: g
            for g in SavingsGroup.objects.filter(pk__in={r["group"] for r in rows}).select_related(
                "leader", "branch__ward"
            )
        }
    for row in rows:
        if "kind" in by:
            row["kind_name"] = kinds.get(row["kind"], row["kind"])
        for name, objects in lookups.items():
            row[f"{name}_obj"] = objects.get(row[name])
    order = {
        "kind": lambda r: r["kind"] or "",
        "ward": lambda r: r["ward_obj"].code if r.get("ward_obj") else "",
        "program": lambda r: r["program_obj"].code if r.get("program_obj") else "",
        "group": lambda r: r["group_obj"].code if r.get("group_obj") else "",
        "branch": lambda r: r["branch"] or 0,
    }
    rows.sort(key=lambda r: tuple(order[name](r) for name in by))
    return rows


def _arrears_on(on):
    """A loan's interest arrears as of `on`: today's less the entries dated after `on` (none before it is lent)."""
    from loans.models import InterestArrearsEntry

    later = (
        InterestArrearsEntry.objects.filter(loan=OuterRef("pk"), on__gt=on)
        .order_by()
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    posted = Exists(Posting.objects.filter(loan=OuterRef("pk"), on__lte=on))
    return Case(When(posted, then=F("interest_arrears") - Coalesce(Subquery(later), ZERO)), default=ZERO)


def _frozen_shift_after(on):
    """Freezes minus lifted freezes dated after `on`: taken off today's status to give the status on `on`."""
    from loans.models import LoanStatusChange

    frozen = Loan.Status.FROZEN
    later = (
        LoanStatusChange.objects.filter(Q(to_status=frozen) | Q(from_status=frozen), loan=OuterRef("pk"), on__gt=on)
        .order_by()
        .values("loan")
        .annotate(
            total=Sum(Case(When(to_status=frozen, then=Value(1)), default=Value(0)))
            - Sum(Case(When(from_status=frozen, then=Value(1)), default=Value(0)))
        )
        .values("total")
    )
    return Coalesce(Subquery(later), Value(0))


def group_households(*, group, on):
    """The group's current members and the households with loans in it, with their balances as of `on`."""
    from borrowers.models import Household

    cached = uses_cached_balances(on)
    loans = Loan.objects.filter(group=group).order_by()
    members = GroupMembership.objects.filter(group=group, left_on__isnull=True)
    frozen_now = Case(When(status=Loan.Status.FROZEN, then=Value(1)), default=Value(0))
    if cached:
        loans = loans.annotate(
            balance=F("principal_outstanding"),
            balance_overdue=F("overdue_principal"),
            arrears=F("interest_arrears"),
            frozen_flag=frozen_now,
        )
        savings = dict(members.values_list("household", "household__savings_balance"))
    else:
        loans = with_derived_balances(loans, on).annotate(
            balance=F("derived_outstanding"),
            balance_overdue=F("derived_overdue"),
            arrears=_arrears_on(on),
            frozen_flag=frozen_now - _frozen_shift_after(on),
        )
        savings = dict(members.annotate(total=_savings_on(on)).values_list("household", "total"))
    outstanding = Q(balance__gt=0)
    figures = {
        row["household"]: row
        for row in loans.filter(outstanding | Q(arrears__gt=0))
        .values("household")
        .annotate(
            loans=Count("pk", filter=outstanding),
            outstanding=Sum("balance"),
            overdue=Sum("balance_overdue"),
            frozen=Sum("balance", filter=Q(frozen_flag__gt=0)),
            interest_arrears=Sum("arrears"),
        )
    }
    households = Household.objects.filter(pk__in=set(savings) | set(figures)).order_by("search_name", "pk")
    return [
        {
            "household": household,
            "is_member": household.pk in savings,
            "loans": figures.get(household.pk, {}).get("loans") or 0,
            **{name: int(figures.get(household.pk, {}).get(name) or 0) for name in AMOUNTS},
            "savings": int(savings.get(household.pk) or 0),
        }
        for household in households
    ]
