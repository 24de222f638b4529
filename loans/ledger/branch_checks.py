"""The per-branch totals against the group rows they sum: a report read from either gives the same figures."""

from django.db.models import F, Sum

from loans.models import (
    BranchBalance,
    BranchDayChange,
    BranchMonthEnd,
    BranchProgramBalance,
    GroupBalance,
    GroupProgramBalance,
    PortfolioDayChange,
    PortfolioMonthEnd,
)

FLOWS = ("lent_month", "lent_year", "collected_month", "collected_year")
FIGURES = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears")
SNAPSHOT_FIGURES = (*FIGURES, "savings")

#: (branch table, group table, the key's fields beside the branch, the figures summed)
SUMMED = (
    (BranchProgramBalance, GroupProgramBalance, ("program", "flows_on"), (*FIGURES, *FLOWS)),
    (BranchBalance, GroupBalance, (), ("households", "savings")),
    (BranchMonthEnd, PortfolioMonthEnd, ("program", "month_end"), (*SNAPSHOT_FIGURES, "lent_year", "collected_year")),
    (BranchDayChange, PortfolioDayChange, ("program", "on"), (*SNAPSHOT_FIGURES, "lent", "collected")),
)


def _sums(queryset, branch, keys, figures):
    """{(branch, *keys): figures} summed in the database, leaving out keys whose figures are all zero."""
    rows = (
        queryset.order_by()
        .values(branch_key=F(branch), **{f"key_{name}": F(name) for name in keys})
        .annotate(**{f"total_{name}": Sum(name) for name in figures})
    )
    sums = {}
    for row in rows:
        values = tuple(int(row[f"total_{name}"] or 0) for name in figures)
        if any(values):
            sums[(row["branch_key"], *(row[f"key_{name}"] for name in keys))] = values
    return sums


def branch_sum_differences():
    """[(branch table, key, its figures, its groups' sums)] wherever a branch row is not the sum of its groups' rows
    (a missing row reads as None)."""
    differences = []
    for branch_model, group_model, keys, figures in SUMMED:
        branches = _sums(branch_model.objects.all(), "branch", keys, figures)
        groups = _sums(group_model.objects.all(), "group__branch", keys, figures)
        for key in sorted(set(branches) | set(groups), key=str):
            if branches.get(key) != groups.get(key):
                differences.append((branch_model._meta.verbose_name, key, branches.get(key), groups.get(key)))
    return differences
