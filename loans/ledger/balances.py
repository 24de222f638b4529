"""Loan and household balances derived from postings and the schedule, the cached balances they rewrite, and
the check that the two agree."""

from collections import defaultdict

from django.db import connection
from django.db.models import Case, DecimalField, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest

from borrowers.models import Household
from loans.models import Loan, Posting, RepaymentInstalment
from organizations.models import GroupMembership

ZERO = Value(0, output_field=DecimalField(max_digits=18, decimal_places=0))
Kind = Posting.Kind


def net_amount(kind, prefix=""):
    """Sum of postings of `kind`, less the reversals of such postings."""
    return Case(
        When(**{f"{prefix}kind": kind}, then=F(f"{prefix}amount")),
        When(**{f"{prefix}kind": Kind.REVERSAL, f"{prefix}reverses__kind": kind}, then=-F(f"{prefix}amount")),
        default=ZERO,
        output_field=DecimalField(max_digits=18, decimal_places=0),
    )


def _posting_sum(kind, owner_field, on=None):
    postings = Posting.objects.filter(**{owner_field: OuterRef("pk")})
    if on is not None:
        postings = postings.filter(on__lte=on)
    total = postings.order_by().values(owner_field).annotate(total=Sum(net_amount(kind))).values("total")
    return Coalesce(Subquery(total), ZERO)


def _overdue_scheduled(on=None):
    """Scheduled principal up to the loan's latest overdue instalment (FIFO: earlier ones are paid first).

    What the loan has repaid is taken off this in `with_derived_balances`, so an instalment paid on time before a
    missed one does not hide the missed one.
    """
    marked = RepaymentInstalment.objects.filter(loan=OuterRef("loan"), overdue_since__isnull=False)
    if on is not None:
        marked = marked.filter(overdue_since__lte=on)
    last_marked = marked.order_by("-seq").values("seq")[:1]
    instalments = RepaymentInstalment.objects.filter(loan=OuterRef("pk"), seq__lte=Subquery(last_marked))
    total = instalments.order_by().values("loan").annotate(total=Sum("principal")).values("total")
    return Coalesce(Subquery(total), ZERO)


def with_derived_balances(loans, on=None):
    """Annotate loans with `derived_outstanding` and `derived_overdue` from postings up to `on` (inclusive)."""
    loans = loans.annotate(
        derived_disbursed=_posting_sum(Kind.DISBURSEMENT, "loan", on),
        derived_principal_paid=_posting_sum(Kind.PRINCIPAL, "loan", on),
        derived_overdue_scheduled=_overdue_scheduled(on),
    )
    return loans.annotate(
        derived_outstanding=F("derived_disbursed") - F("derived_principal_paid"),
        derived_overdue=Greatest(F("derived_overdue_scheduled") - F("derived_principal_paid"), ZERO),
    )


def with_derived_savings(households, on=None):
    households = households.annotate(
        derived_savings_in=_posting_sum(Kind.SAVINGS_IN, "household", on),
        derived_savings_out=_posting_sum(Kind.SAVINGS_OUT, "household", on),
    )
    return households.annotate(derived_savings=F("derived_savings_in") - F("derived_savings_out"))


def refresh_balances(*, loan_ids=(), household_ids=(), since=None):
    """Rewrite the cached balances of these loans and the savings of these households from the ledger (one statement
    each), then their groups' summaries and snapshots once (from `since`, the earliest business date that changed,
    when the caller knows it)."""
    from loans.ledger.summaries import refresh_group_balances  # summaries build on these balances: imported here

    loan_ids, household_ids = list(loan_ids), list(household_ids)
    groups = set()
    if loan_ids:
        derived = with_derived_balances(Loan.objects.filter(pk=OuterRef("pk")))
        Loan.objects.filter(pk__in=loan_ids).update(
            principal_outstanding=Subquery(derived.values("derived_outstanding")[:1]),
            overdue_principal=Subquery(derived.values("derived_overdue")[:1]),
        )
        groups.update(Loan.objects.filter(pk__in=loan_ids).values_list("group", flat=True))
    if household_ids:
        derived = with_derived_savings(Household.objects.filter(pk=OuterRef("pk")))
        Household.objects.filter(pk__in=household_ids).update(
            savings_balance=Subquery(derived.values("derived_savings")[:1])
        )
        groups.update(
            GroupMembership.objects.filter(household__in=household_ids, left_on__isnull=True).values_list(
                "group", flat=True
            )
        )
    refresh_group_balances(sorted(groups), since=since)


def refresh_loan_balances(loan_ids, since=None):
    refresh_balances(loan_ids=loan_ids, since=since)


def refresh_overdue_balances(loan_ids, since, snapshots=True):
    """After a day close marked instalments of these loans: their overdue principal from their postings and schedule,
    the change added to their groups' and branches' overdue totals, and the groups' snapshots from `since` (unless
    snapshots=False: the close added the marks' change to them itself). Marking changes nothing else, so nothing
    else is rewritten: the cost follows the loans marked, not the size of their groups. A loan whose cached
    outstanding was out of line with its postings (one not refreshed) has it rewritten too, and its groups' totals
    and snapshots are rebuilt. Loans in batches as `in_batches` cuts them."""
    from loans.ledger.snapshots import lock_branch_sums, refresh_snapshots  # built on these balances
    from loans.ledger.summaries import refresh_group_balances
    from loans.models import BranchProgramBalance, GroupProgramBalance

    last_marked = RepaymentInstalment.objects.filter(loan=OuterRef("pk"), overdue_since__isnull=False).order_by("-seq")
    scheduled = Coalesce(Subquery(last_marked.values("scheduled_through")[:1]), _overdue_scheduled())
    paid = _posting_sum(Kind.PRINCIPAL, "loan")
    changes, groups, stale = defaultdict(int), set(), set()
    for batch in in_batches(sorted(loan_ids)):
        loans = Loan.objects.filter(pk__in=batch)
        before = {row[0]: row[1:] for row in loans.values_list(
            "pk", "group_id", "program_id", "principal_outstanding", "overdue_principal")}
        loans.update(
            principal_outstanding=_posting_sum(Kind.DISBURSEMENT, "loan") - paid,
            overdue_principal=Greatest(scheduled - paid, ZERO),
        )
        for pk, outstanding, overdue in loans.values_list("pk", "principal_outstanding", "overdue_principal"):
            group, program, old_outstanding, old_overdue = before[pk]
            groups.add(group)
            changes[group, program] += int(overdue) - int(old_overdue)
            if outstanding != old_outstanding:
                stale.add(group)
    changes = {pair: change for pair, change in changes.items() if change and pair[0] not in stale}
    branch_changes = defaultdict(int)  # (branch, program, flows_on): change, as the branch rows are kept
    for batch in in_batches(sorted(changes)):
        rows = [row for row in GroupProgramBalance.objects.filter(
            group__in={group for group, _program in batch}, program__in={program for _group, program in batch}
        ).values_list("pk", "group_id", "program_id", "flows_on", "group__branch") if row[1:3] in changes]
        add_by_pk(GroupProgramBalance, "overdue", {pk: changes[group, program] for pk, group, program, *_ in rows})
        for _pk, group, program, flows_on, branch in rows:
            branch_changes[branch, program, flows_on] += changes[group, program]
    branches = sorted({branch for branch, _program, _flows_on in branch_changes})
    # The branch rows are looked up once no other transaction may rewrite them (it would have new ids).
    lock_branch_sums(branches)
    for batch in in_batches(branches):
        rows = BranchProgramBalance.objects.filter(branch__in=batch).values_list(
            "pk", "branch_id", "program_id", "flows_on")
        add_by_pk(BranchProgramBalance, "overdue", {
            pk: branch_changes[branch, program, flows_on] for pk, branch, program, flows_on in rows
            if (branch, program, flows_on) in branch_changes
        })
    if stale:
        refresh_group_balances(sorted(stale), since=since)
    if snapshots:
        refresh_snapshots(sorted(groups - stale), since=since)


def add_by_pk(model, field, amounts):
    """Add {pk: amount} to `field` of those rows of `model`: a CASE the database reads once per batch, not one Django
    expression per row."""
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field)
    with connection.cursor() as cursor:
        for batch in in_batches(list(amounts.items()), params_each=3):
            cases = " ".join(["WHEN %s THEN %s"] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET {column} = {column} + CASE id {cases} END "
                f"WHERE id IN ({', '.join(['%s'] * len(batch))})",
                [*(value for pk_amount in batch for value in pk_amount), *(pk for pk, _amount in batch)],
            )


def in_batches(items, params_each=1):
    """`items` in slices small enough for one statement's parameters (`params_each` per item, a hundred left for the
    rest): 900 ids on SQLite (its limit is 999), 10,000 elsewhere (fewer round trips when a day close catches up)."""
    limit = connection.features.max_query_params
    size = (limit - 99) // params_each if limit else 10_000
    return [items[start:start + size] for start in range(0, len(items), size)]


def refresh_household_savings(household_ids, since=None):
    refresh_balances(household_ids=household_ids, since=since)


def ledger_differences():
    """Loans and households whose cached balance disagrees with their postings."""
    loans = (
        with_derived_balances(Loan.objects.all())
        .filter(~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue")))
        .values_list("number", "principal_outstanding", "derived_outstanding", "overdue_principal", "derived_overdue")
    )
    households = (
        with_derived_savings(Household.objects.all())
        .filter(~Q(savings_balance=F("derived_savings")))
        .values_list("pk", "head_name", "savings_balance", "derived_savings")
    )
    return list(loans), list(households)
