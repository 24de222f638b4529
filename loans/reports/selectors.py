"""Dashboard and report figures: portfolio rows by kind, ward, branch, program and group, as of any date."""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import BigIntegerField, Case, Count, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.routers import report_reads
from loans.ledger.balances import ZERO, net_amount, with_derived_balances
from loans.ledger.snapshots import snapshot_span
from loans.ledger.summaries import derived_portfolio, flow_postings, flow_sums, month_ends
from loans.models import (
    BranchBalance,
    BranchDayChange,
    BranchMonthEnd,
    BranchProgramBalance,
    GroupBalance,
    GroupProgramBalance,
    Loan,
    MonthlyBalance,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
)
from loans.selectors.loans import CORRECTIONS_LISTED, postings_for
from organizations.models import GroupMembership, SavingsGroup
from organizations.selectors.history import branch_on, moved_after, ward_filter_on
from organizations.selectors.scope import branch_scope

# Every dashboard and report figure comes from `portfolio_report` (`portfolio_breakdowns` for several breakdowns read
# at once). For today (with no postings dated later) it reads the summaries kept by `refresh_loan_balances`; for
# another date it reads the snapshots (the last month end before the date plus the day changes since), and only
# before the first snapshot does it derive the figures from the postings. All three give the same figures in a
# handful of aggregate queries. Summaries and snapshots are kept per group and summed per ward branch (the groups'
# branch today): pages read the branch sums, a few hundred rows whatever the number of loans, and the group rows
# only by group or under the branches of a date before a merger.

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
    """True when figures as of `on` may come from the cached balances: `on` is today, nothing is posted later, and no
    cached flow was refreshed on a later day (a clock set back: its month is not today's)."""
    today = timezone.localdate()
    if on != today:
        return False
    later = Posting.objects.filter(on__gt=today).values("pk")
    # The per-branch rows keep their groups' refresh days apart: a few hundred rows to look through, not every group's.
    return not later.union(BranchProgramBalance.objects.filter(flows_on__gt=today).values("pk")).exists()


#: Dimensions that a ward merger changes: as of a date before it, a group counts under its branch of that date.
MOVED_BY_MERGERS = {"ward": "ward", "branch": None}


def _dim_values(by, prefix="", then=None):
    """values() keyword arguments that name each dimension `d_<name>` (avoids clashes with model fields).

    `then`: the date whose wards and branches to show when groups have moved since (None: today's)."""
    paths = {}
    for name in by:
        path = DIMENSIONS[name]
        if prefix == "groups:":
            path = "pk" if path == "group" else path.removeprefix("group__")
        elif prefix == "branches:":  # per-branch rows: never by group, never under a past date's branches
            path = path.removeprefix("group__")
        else:
            path = prefix + path
        if then is not None and name in MOVED_BY_MERGERS:
            group = "pk" if prefix == "groups:" else f"{prefix}group"
            paths[f"d_{name}"] = branch_on(group, then, MOVED_BY_MERGERS[name])
        else:
            paths[f"d_{name}"] = F(path)
    return paths


def _filters(user, prefix, *, organization=None, ward=None, then=None):
    """Scope Q over the branch reached by `prefix` ("group__branch", "loan__group__branch", "branch").

    A ward filter with `then` takes the groups that were in that ward on that date."""
    q = branch_scope(user, prefix)
    if organization:
        q &= Q(**{f"{prefix}__kind": organization})
    if ward and then is not None:
        q &= ward_filter_on(prefix.removesuffix("__branch") if prefix.endswith("__branch") else "pk", then, ward)
    elif ward:
        q &= Q(**{f"{prefix}__ward": ward})
    return q


def _key(row, by):
    return tuple(row[f"d_{name}"] for name in by)


def _grouped(queryset, by, prefix="", then=None, **aggregates):
    """{key: row} of `aggregates` per combination of the `by` dimensions (one row keyed () when by is empty)."""
    if not by:
        return {(): queryset.aggregate(**aggregates)}
    rows = queryset.values(**_dim_values(by, prefix, then)).annotate(**aggregates)
    return {_key(row, by): row for row in rows}


def _branch_level(dims, then):
    """Whether figures by `dims` may come from the per-branch rows: not by group, and under today's branches (no
    group moved since the date, or today's wards asked for)."""
    return "group" not in dims and then is None


def _source_rows(user, dims, then, filters):
    """(scope Q, values() prefix, whether the per-branch rows answer) for figures by `dims`."""
    if _branch_level(dims, then):
        return _filters(user, "branch", **filters), "branches:", True
    return _filters(user, "group__branch", **filters), "", False


def _amounts_cached(user, dims, on, wholes=True, **filters):
    """({key by dims: program figures}, {key by dims without program: households and savings}) from the cached
    summaries: the per-branch ones when they answer, else the per-group ones."""
    then = filters.get("then")
    scope, prefix, branch_level = _source_rows(user, dims, then, filters)
    program_rows, whole_rows = (
        (BranchProgramBalance, BranchBalance) if branch_level else (GroupProgramBalance, GroupBalance)
    )
    programs = _grouped(
        program_rows.objects.filter(scope).order_by(),
        dims,
        prefix,
        then,
        loans=Sum("loans"),
        households=Sum("households"),
        **{name: Sum(name) for name in AMOUNTS},
        **_cached_flows(on),
    )
    if not wholes:
        return programs, {}
    whole_dims = tuple(name for name in dims if name != "program")
    groups = _grouped(
        whole_rows.objects.filter(scope).order_by(), whole_dims, prefix, then,
        households=Sum("households"), savings=Sum("savings"),
    )
    return programs, groups


def snapshot_month_end(on):
    """The last snapshot month end before `on`, or None when the snapshots do not cover `on` (one query)."""
    first, last = snapshot_span()
    if first is None or on <= first:
        return None
    return min(last, on.replace(day=1) - timedelta(days=1))


SNAPSHOT_AMOUNTS = ("loans", "outstanding", "overdue", "frozen", "interest_arrears")


def _snapshot_rows(queryset, by, prefix="", then=None, **aggregates):
    """{(key, whole): row}: `whole` is 1 for a group's (branch's) own rows (households across programs, savings),
    whose program in the key is None."""
    whole = Case(When(program__isnull=True, then=Value(1)), default=Value(0))
    rows = queryset.values(**_dim_values(by, prefix, then), d_whole=whole).annotate(**aggregates)
    return {(_key(row, by), row["d_whole"]): row for row in rows}


def _amounts_from_snapshots(user, dims, on, month_end, **filters):
    """Figures as of `on`: the month end's rows plus the day changes after it, two aggregate queries, split as
    `_amounts_cached` splits them."""
    then = filters.get("then")
    scope, prefix, branch_level = _source_rows(user, dims, then, filters)
    month_rows, day_rows = (BranchMonthEnd, BranchDayChange) if branch_level else (PortfolioMonthEnd, PortfolioDayChange)
    figures = (*SNAPSHOT_AMOUNTS, "households", "savings")
    base = _snapshot_rows(
        month_rows.objects.filter(scope, month_end=month_end).order_by(),
        dims,
        prefix,
        then,
        **{name: Sum(name) for name in (*figures, "lent_year", "collected_year")},
    )
    month_start, year_start = on.replace(day=1), on.replace(month=1, day=1)
    changes = _snapshot_rows(
        day_rows.objects.filter(scope, on__gt=month_end, on__lte=on).order_by(),
        dims,
        prefix,
        then,
        **{name: Sum(name) for name in figures},
        lent_month=Sum("lent", filter=Q(on__gte=month_start)),
        collected_month=Sum("collected", filter=Q(on__gte=month_start)),
        lent_year=Sum("lent", filter=Q(on__gte=year_start)),
        collected_year=Sum("collected", filter=Q(on__gte=year_start)),
    )
    same_year = month_end.year == on.year
    program_at = dims.index("program") if "program" in dims else None
    programs, wholes = {}, {}
    for source, rows in (("base", base), ("changes", changes)):
        for (key, whole), row in rows.items():
            if whole:
                entry = wholes.setdefault(tuple(v for i, v in enumerate(key) if i != program_at), {})
                names = ("households", "savings")
            else:
                entry = programs.setdefault(key, {})
                names = (*SNAPSHOT_AMOUNTS, "households", "lent_year", "collected_year")
                if source == "changes":
                    names = (*names, "lent_month", "collected_month")
                elif not same_year:
                    names = tuple(n for n in names if n not in ("lent_year", "collected_year"))
            for name in names:
                entry[name] = entry.get(name, 0) + (row[name] or 0)
    return programs, wholes


def _roll_up(parts, dims, by, *, cached):
    """{key by `by`: figures} from the (programs, wholes) split by `dims` (a superset of `by`): every figure adds
    up, households counted per program under a program and per group (branch) otherwise. From the cached
    summaries a key without a group's own row keeps its programs' households, as the per-group rows always did."""
    programs, wholes = parts
    index = [dims.index(name) for name in by]
    result = {}
    for key, row in programs.items():
        entry = result.setdefault(tuple(key[i] for i in index), {})
        for name, value in row.items():
            if not name.startswith("d_"):
                entry[name] = entry.get(name, 0) + (value or 0)
    if "program" in by:
        return result
    whole_dims = [name for name in dims if name != "program"]
    whole_index = [whole_dims.index(name) for name in by]
    counted = set()
    for key, row in wholes.items():
        rolled = tuple(key[i] for i in whole_index)
        entry = result.setdefault(rolled, {})
        if rolled not in counted:
            entry["households"] = entry["savings"] = 0
            counted.add(rolled)
        entry["households"] += row["households"] or 0
        entry["savings"] += row["savings"] or 0
    if not cached:
        for key, entry in result.items():
            if key not in counted:
                entry["households"] = 0
    return result


def _sum_by(rows, dims, by, names):
    """{key by `by`: {name: sum}} of {key by dims: row}."""
    index = [dims.index(name) for name in by]
    result = {}
    for key, row in rows.items():
        entry = result.setdefault(tuple(key[i] for i in index), {})
        for name in names:
            entry[name] = entry.get(name, 0) + (row.get(name) or 0)
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
    result = derived_portfolio(Loan.objects.filter(scope), on, by, then=filters.get("then"))
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
        filters.get("then"),
        savings=Sum(net_amount(Posting.Kind.SAVINGS_IN)) - Sum(net_amount(Posting.Kind.SAVINGS_OUT)),
    )
    for key, row in savings.items():
        result.setdefault(key, {})["savings"] = row["savings"]
    return result


def _flows(user, by, on, **filters):
    """Lending and collections in on's month and year, from the postings (for a date other than today)."""
    postings = flow_postings(Posting.objects.filter(_filters(user, "loan__group__branch", **filters)), on)
    return _grouped(postings, by, "loan__", filters.get("then"), **flow_sums(on.replace(day=1)))


def _cached_flows(on):
    """Sums of the refreshed month and year flows, counting a row's month (year) only if it is on's month (year)."""
    this_month = Q(flows_on__gte=on.replace(day=1), flows_on__lte=on)
    this_year = Q(flows_on__gte=on.replace(month=1, day=1), flows_on__lte=on)
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
    grouped = _grouped(groups.order_by(), by, "groups:", filters.get("then"), groups=Count("pk"))
    return {key: row["groups"] for key, row in grouped.items()}


@report_reads()
def group_grade_counts(*, user, on, by=(), organization=None, ward=None, then=None):
    """{key: {"good", "fair", "average", "weak"}}: groups by their latest grade up to on's month, in one query."""
    from organizations.models import GroupGrade

    if "program" in by:  # a group's grade is not split by program
        return {}
    month = on.replace(day=1)
    latest = GroupGrade.objects.filter(group=OuterRef("group"), month__lte=month).order_by("-month").values("month")[:1]
    scope = _filters(user, "group__branch", organization=organization, ward=ward, then=then)
    grades = GroupGrade.objects.filter(scope).filter(
        month__lte=month, month=Subquery(latest)
    )
    counts = {grade: Count("pk", filter=Q(grade=grade)) for grade in GRADES}
    if not by:
        return {(): grades.aggregate(**counts)}
    rows = grades.order_by().values(**_dim_values(by, then=then)).annotate(**counts)
    return {_key(row, by): row for row in rows}


def _then(on, by, ward, today_wards, moved):
    """The date whose wards and branches figures by `by` are shown under (None: today's) and `moved` as known."""
    if (ward or {"ward", "branch"} & set(by)) and not today_wards:
        if moved is None:
            moved = moved_after(on)
        return (on if moved else None), moved
    return None, moved


@report_reads()
def portfolio_report(*, user, on, by=(), organization=None, ward=None, today_wards=False, moved=None):
    """Rows of figures as of `on` within the user's scope, one per combination of the `by` dimensions.

    Each row has `key` (the dimension values), the amounts (outstanding, overdue, frozen, interest_arrears, savings),
    loans, households, groups, the month's and year's flows and the group grade counts, as whole numbers.
    With by=() there is one row: the totals.

    Wards and branches are those of `on`: before a ward merger, the old wards. With `today_wards` the same figures
    are shown under today's wards instead, to compare like with like; the totals are the same either way.
    `moved` may pass whether groups changed branch after `on` when the caller already knows (None: ask).
    """
    by = tuple(by)
    return portfolio_breakdowns(
        user=user, on=on, bys=[by], organization=organization, ward=ward, today_wards=today_wards, moved=moved
    )[by]


@report_reads()
def portfolio_breakdowns(*, user, on, bys, organization=None, ward=None, today_wards=False, moved=None):
    """{by: rows of `portfolio_report(by=by)`} for each of `bys`, reading the figures once for all of them.

    From the cached summaries and the snapshots every figure adds up, so the rows are read once by all the
    dimensions together (under today's branches, from the per-branch rows: a few hundred rows for a province) and
    summed into each breakdown. Before the first snapshot the figures are derived from the postings per breakdown.
    """
    bys = [tuple(by) for by in bys]
    dims = tuple(name for name in DIMENSIONS if any(name in by for by in bys))
    then, moved = _then(on, dims, ward, today_wards, moved)
    filters = {"organization": organization, "ward": ward, "then": then}
    whole_dims = tuple(name for name in dims if name != "program")
    wholes = any("program" not in by for by in bys)
    month_end = None
    cached = uses_cached_balances(on)
    if not cached:
        month_end = snapshot_month_end(on)
    if not cached and not month_end:
        result = {}
        for by in bys:
            by_then, moved = _then(on, by, ward, today_wards, moved)
            by_filters = {**filters, "then": by_then}
            amounts = _amounts_from_ledger(user, by, on, **by_filters)
            flows = _flows(user, by, on, **by_filters)
            groups = _group_counts(user, by, **by_filters)
            grades = group_grade_counts(user=user, on=on, by=by, **by_filters)
            result[by] = _report_rows(by, amounts, flows, groups, grades)
        return result
    if cached:
        parts = _amounts_cached(user, dims, on, wholes=wholes, **filters)
    else:
        parts = _amounts_from_snapshots(user, dims, on, month_end, **filters)
    # Groups and their grades are not split by program: counted once by the other dimensions.
    group_counts = _group_counts(user, whole_dims, **filters) if wholes else {}
    group_counts = {key: {"groups": count} for key, count in group_counts.items()}
    grade_counts = group_grade_counts(user=user, on=on, by=whole_dims, **filters) if wholes else {}
    result = {}
    for by in bys:
        amounts = _roll_up(parts, dims, by, cached=cached)
        groups, grades = {}, {}
        if "program" not in by:
            groups = {key: row["groups"] for key, row in _sum_by(group_counts, whole_dims, by, ("groups",)).items()}
            grades = _sum_by(grade_counts, whole_dims, by, GRADES)
        result[by] = _report_rows(by, amounts, amounts, groups, grades)
    return result


def _report_rows(by, amounts, flows, groups, grades):
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


@report_reads()
def portfolio_totals(
    *, user, on, organization=None, ward=None, by_kind=None, rows=None, today_wards=False, moved=None
):
    """The totals row. From cached balances and snapshots every figure adds up across organizations, wards, branches
    and groups (households are counted per group), so rows already fetched by one of those (`by_kind`, or `rows` of
    any breakdown but the program) can be summed instead of reading every group's figures again."""
    rows = by_kind if rows is None else rows
    if rows is not None and (uses_cached_balances(on) or snapshot_month_end(on)):
        total = {"key": (), **{name: sum(row[name] for row in rows) for name in ADDITIVE}}
        total["overdue_ratio"] = overdue_ratio(total["overdue"], total["outstanding"])
        return total
    return portfolio_report(
        user=user, on=on, organization=organization, ward=ward, today_wards=today_wards, moved=moved
    )[0]


def _ward_at_month_end():
    """Expression over month-end snapshot rows: the ward of the row's group at the row's month end."""
    from organizations.models import GroupTransfer

    later = GroupTransfer.objects.filter(group=OuterRef("group"), moved_on__gt=OuterRef("month_end"))
    ward_then = later.order_by("moved_on", "pk").values("from_branch__ward")[:1]
    return Coalesce(Subquery(ward_then), F("group__branch__ward"), output_field=BigIntegerField())


@report_reads()
def month_end_figures(*, user, ends, by, organization=None, ward=None, per_month=False):
    """{(month end, kind or ward id): {"outstanding", "overdue"}} at each of `ends`, by "kind" or "ward".

    Under today's wards (the default) each month end's figures are counted under the group's ward today; with
    `per_month`, under the ward the group was in at that month end (before a merger: the old ward), and a `ward`
    filter takes the groups in that ward at each month end. MonthlyBalance answers for the month ends it holds when
    today's wards are asked for (or no group moved since); the month-end snapshots for the others. At most four
    queries, whatever the number of wards.
    """
    if not ends:
        return {}
    result = {}
    moved = per_month and moved_after(ends[0])
    missing = list(ends)
    if not moved:
        rows = (
            MonthlyBalance.objects.filter(
                _filters(user, "branch", organization=organization, ward=ward), month_end__in=ends
            )
            .order_by()
            .values("month_end", key=F(f"branch__{by}"))
            .annotate(outstanding=Sum("outstanding"), overdue=Sum("overdue"))
        )
        for row in rows:
            result[row["month_end"], row["key"]] = row
        held = {month_end for month_end, _key in result}
        missing = [end for end in ends if end not in held]
    first, last = snapshot_span() if missing else (None, None)
    covered = [end for end in missing if first is not None and first <= end <= last]
    if covered and not moved:
        # Under today's wards the per-branch month ends answer.
        rows = (
            BranchMonthEnd.objects.filter(
                _filters(user, "branch", organization=organization, ward=ward),
                month_end__in=covered,
                program__isnull=False,
            )
            .order_by()
            .values("month_end", key=F(f"branch__{by}"))
            .annotate(outstanding=Sum("outstanding"), overdue=Sum("overdue"))
        )
        for row in rows:
            result[row["month_end"], row["key"]] = row
    elif covered:
        ward_then = _ward_at_month_end()
        snapshots = PortfolioMonthEnd.objects.filter(
            _filters(user, "group__branch", organization=organization),
            month_end__in=covered,
            program__isnull=False,
        ).alias(ward_then=ward_then)
        if ward:
            snapshots = snapshots.filter(ward_then=ward)
        key = F("ward_then") if by == "ward" else F("group__branch__kind")
        rows = (
            snapshots.order_by()
            .values("month_end", key=key)
            .annotate(outstanding=Sum("outstanding"), overdue=Sum("overdue"))
        )
        for row in rows:
            result[row["month_end"], row["key"]] = row
    return {
        point: {"outstanding": int(row["outstanding"] or 0), "overdue": int(row["overdue"] or 0)}
        for point, row in result.items()
        if row["outstanding"]
    }


@report_reads()
def portfolio_trend(*, user, today, organization=None, ward=None, current=None, today_wards=False, per_month=False):
    """Outstanding and overdue per organization at the last 12 month ends and today.

    `per_month`: each month end under the wards of that month (matters with a ward filter); `today_wards` says
    whether today's point is under today's wards. `current` may pass today's rows by organization when the caller
    already has them.
    """
    ends = month_ends(today)
    points = month_end_figures(
        user=user, ends=ends, by="kind", organization=organization, ward=ward, per_month=per_month
    )
    if current is None:
        current = portfolio_report(
            user=user, on=today, by=("kind",), organization=organization, ward=ward, today_wards=today_wards
        )
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


@report_reads()
def ward_trend(*, user, today, current, organization=None, ward=None, per_month=False):
    """Outstanding and overdue per ward at the last 12 month ends and today: {"days", "rows"}, each row a ward with
    `ward_obj` and its `points` (one per day, None where the ward had nothing outstanding or was not in being).

    `current` are today's rows by ward (under the same wards as asked). Five queries at most, whatever the number
    of wards.
    """
    from organizations.models import Ward

    ends = month_ends(today)
    points = month_end_figures(
        user=user, ends=ends, by="ward", organization=organization, ward=ward, per_month=per_month
    )
    for row in current:
        if row["outstanding"]:
            points[today, row["ward"]] = {"outstanding": row["outstanding"], "overdue": row["overdue"]}
    days = [*ends, today]
    wards = Ward.objects.in_bulk({ward_id for _day, ward_id in points})
    rows = []
    for ward_id, ward_obj in wards.items():
        cells = []
        for day in days:
            figures = points.get((day, ward_id))
            cells.append(figures and {
                **figures,
                "million": Decimal(figures["outstanding"]) / 1_000_000,
                "overdue_ratio": overdue_ratio(figures["overdue"], figures["outstanding"]),
            })
        rows.append({"ward": ward_id, "ward_obj": ward_obj, "points": cells})
    rows.sort(key=lambda row: row["ward_obj"].code)
    return {"days": days, "rows": rows}


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


@report_reads()
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


def corrections_booked_after(user, on):
    """Reversals, reversals undone and correction rows dated on or before `on` but booked after it: what changed the
    figures of `on` after that day. -> (count, the first CORRECTIONS_LISTED, newest booking first).

    Each kind of correction is found through its own index (reversals by booking time, restores and corrected rows
    by their link), never by scanning the postings booked since `on`: a past date's page costs what its corrections
    do, whatever the size of the ledger.
    """
    from loans.models import CollectionLine

    after = timezone.make_aware(datetime.combine(on + timedelta(days=1), time.min))
    booked = {"on__lte": on, "created_at__gte": after}
    corrected_lines = CollectionLine.objects.filter(corrects__isnull=False).values("pk")
    found = Posting.objects.order_by().filter(**booked).values("pk")
    ids = found.filter(kind=Posting.Kind.REVERSAL).union(
        found.filter(restores__isnull=False), found.filter(collection_lines__in=corrected_lines)
    )
    postings = postings_for(user).filter(pk__in=[row["pk"] for row in ids])
    listed = list(
        postings.select_related("reverses", "request__requested_by", "created_by").order_by("-created_at", "-pk")[
            : CORRECTIONS_LISTED + 1
        ]
    )
    # The count is asked for only when the list overflows.
    count = len(listed) if len(listed) <= CORRECTIONS_LISTED else postings.count()
    return count, listed[:CORRECTIONS_LISTED]
