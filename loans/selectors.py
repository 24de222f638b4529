"""Scoped reads of requests, loans and postings, and the portfolio figures every report starts from."""

from decimal import Decimal

from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from loans.ledger import (
    ZERO,
    derived_portfolio,
    flow_postings,
    flow_sums,
    month_ends,
    net_amount,
    with_derived_balances,
)
from loans.models import GroupBalance, GroupProgramBalance, Loan, LoanApplication, MonthlyBalance, Posting
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


# --- Dashboard and report figures -------------------------------------------------------------------------------
# Every dashboard and report figure comes from `portfolio_report`. For today (with no postings dated later) it reads
# the per-group summaries kept by `refresh_loan_balances`; for another date it derives the same figures from the
# postings. Both are a handful of aggregate queries, whatever the number of loans.

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
    """{key: {"good", "fair", "average", "weak"}}: how many groups had each grade in on's month.

    GROUP GRADES PLUG-IN POINT. No grade data exists yet, so this returns {} and every count shows 0. When the
    monthly GroupGrade (group, month, score, grade) lands, aggregate it here in one query:
        GroupGrade.objects.filter(_filters(user, "group__branch", organization=organization, ward=ward),
                                  month=on.replace(day=1))
            .values(**_dim_values(by)).annotate(**{g: Count("pk", filter=Q(grade=g)) for g in GRADES})
    and return {_key(row, by): row}. (`_dim_values` paths start at `group__`, so they fit GroupGrade as is.)
    """
    return {}


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
    """The totals row. From cached balances every figure adds up across organizations (households are counted per
    group), so rows already fetched by organization can be summed instead of querying again."""
    if by_kind is not None and uses_cached_balances(on):
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


def group_households(*, group, on):
    """The group's current members and the households with loans in it, with their balances as of `on`."""
    from borrowers.models import Household

    cached = uses_cached_balances(on)
    loans = Loan.objects.filter(group=group).order_by()
    members = GroupMembership.objects.filter(group=group, left_on__isnull=True)
    if cached:
        loans = loans.annotate(balance=F("principal_outstanding"), balance_overdue=F("overdue_principal"))
        savings = dict(members.values_list("household", "household__savings_balance"))
    else:
        loans = with_derived_balances(loans, on).annotate(
            balance=F("derived_outstanding"), balance_overdue=F("derived_overdue")
        )
        savings = dict(members.annotate(total=_savings_on(on)).values_list("household", "total"))
    outstanding = Q(balance__gt=0)
    figures = {
        row["household"]: row
        for row in loans.filter(outstanding | Q(interest_arrears__gt=0))
        .values("household")
        .annotate(
            loans=Count("pk", filter=outstanding),
            outstanding=Sum("balance"),
            overdue=Sum("balance_overdue"),
            frozen=Sum("balance", filter=Q(status=Loan.Status.FROZEN)),
            interest_arrears=Sum("interest_arrears"),
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
