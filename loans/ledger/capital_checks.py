"""Capital figures against what they are made of: a plan's total against its ward allocations, an allocation's amount
against its history, its committed and disbursed figures against the requests charged to it, and what a ward merger
carried against the allocations it closed. A figure changed around the services (the database shell, a bad script)
shows here; the database's constraints see one row at a time and cannot.

Each check is one set-based query; `LIMIT` plans and allocations are listed, the count is always exact."""

from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Sum, When
from django.db.models.functions import Coalesce

from loans.ledger.balances import ZERO
from loans.ledger.sources import LIMIT
from loans.models import AllocationEvent, CapitalAllocation, CapitalPlan, CapitalUse, LoanApplication
from loans.money import format_vnd

Event = AllocationEvent.Kind
# How each history entry moves the allocated amount; a proposal, a rejection or a released request does not.
ADDS = (Event.APPROVED, Event.CUT, Event.ADJUSTED_IN, Event.MERGED_IN)
TAKES = (Event.ADJUSTED_OUT, Event.MERGED_OUT)


def _sum(rows, group_by, expression):
    """Coalesce(sum of `expression` over `rows`) as a subquery; `rows` is already filtered on the outer row."""
    total = rows.order_by().values(group_by).annotate(total=Sum(expression)).values("total")
    return Coalesce(Subquery(total), ZERO)


def _money(*whens):
    return Case(*whens, default=ZERO, output_field=ZERO.output_field)


def _plans():
    approved = CapitalAllocation.objects.filter(plan=OuterRef("pk"), status=CapitalAllocation.Status.APPROVED)
    return CapitalPlan.objects.annotate(allocated=_sum(approved, "plan", "amount")).filter(allocated__gt=F("amount"))


def _allocations():
    """Allocations annotated with what their history, requests and mergers say, filtered to those that disagree."""
    events = AllocationEvent.objects.filter(allocation=OuterRef("pk"))
    uses = CapitalUse.objects.filter(allocation=OuterRef("pk"))
    # A request holds what it was approved for until it is paid out (then what was paid) or withdrawn (then nothing).
    still_waiting = Q(amount_disbursed__isnull=True) & ~Q(application__status=LoanApplication.Status.WITHDRAWN)
    # A merger's new allocation receives what the allocations of the same plan in the merged branches gave up.
    carried_out = AllocationEvent.objects.filter(
        kind=Event.MERGED_OUT, allocation__plan=OuterRef("plan"), allocation__branch__merged_into=OuterRef("branch")
    )
    receiver = CapitalAllocation.objects.filter(plan=OuterRef("plan"), branch=OuterRef("branch__merged_into"))
    allocations = CapitalAllocation.objects.annotate(
        from_history=_sum(events, "allocation", _money(When(kind__in=ADDS, then=F("amount")),
                                                       When(kind__in=TAKES, then=-F("amount")))),
        paid=_sum(uses, "allocation", _money(When(amount_disbursed__isnull=False, then=F("amount_disbursed")))),
        waiting=_sum(uses, "allocation", _money(When(still_waiting, then=F("amount_approved")))),
        merged_in=_sum(events, "allocation", _money(When(kind=Event.MERGED_IN, then=F("amount")))),
        carried_in=_sum(carried_out, "allocation__plan", "amount"),
        merged_out=Exists(events.filter(kind=Event.MERGED_OUT)),
        received=Exists(receiver),
    )
    return allocations.filter(
        ~Q(amount=F("from_history"))
        | Q(amount_committed__gt=F("amount"))
        | Q(amount_disbursed__gt=F("amount_committed"))
        | Q(amount__lt=F("paid") + F("waiting"))
        | Q(amount_disbursed__lt=F("paid"))
        | Q(amount_committed__lt=F("amount_disbursed") + F("waiting"))
        | ~Q(merged_in=F("carried_in"))
        | Q(merged_out=True, received=False)
    )


def _allocation_differences(amount, committed, disbursed, from_history, paid, waiting, merged_in, carried_in,
                            merged_out, received):
    v = format_vnd
    held = paid + waiting
    found = []
    if amount != from_history:
        found.append(f"amount {v(amount)}, but its history (approval, adjustments, mergers) adds up to "
                     f"{v(from_history)}")
    if committed > amount:
        found.append(f"approved for requests {v(committed)}, more than its amount {v(amount)}")
    if disbursed > committed:
        found.append(f"disbursed {v(disbursed)}, more than the {v(committed)} approved for requests")
    if held > amount:
        found.append(f"the requests approved against it hold {v(held)}, more than its amount {v(amount)}")
    if disbursed < paid:
        found.append(f"disbursed {v(disbursed)}, less than the {v(paid)} paid out on its requests")
    if committed - disbursed < waiting:
        found.append(f"approved for requests and not yet disbursed {v(committed - disbursed)}, less than the "
                     f"{v(waiting)} its approved requests still wait for")
    if merged_in != carried_in:
        found.append(f"a ward merger gave it {v(merged_in)}, but the allocations the merger closed gave up "
                     f"{v(carried_in)}")
    if merged_out and not received:
        found.append("a ward merger closed it, but the new ward's branch has no allocation of this plan to receive it")
    return found


def capital_differences(limit=LIMIT):
    """Capital plans and allocations whose figures do not add up: (how many, [(subject, [differences])]).

    - a plan whose approved allocations add up to more than its total;
    - an allocation whose amount is not what its history (approval or cut, adjustments in and out, mergers) adds up
      to; whose amount is below what it has committed, or its committed below what it has disbursed; whose
      requests (approved and not withdrawn; paid out at the amount paid) hold more than its amount; whose
      disbursed figure is below what its requests were paid, or whose committed-but-not-disbursed figure is below
      what its approved requests still wait for. What is committed and disbursed beyond its requests was charged
      for loans without a request when the allocation was set up (see `allocation_usage`), so it is not matched;
    - an allocation a ward merger formed whose amount is not the sum the closed allocations gave up, or a closed
      allocation with no new one to receive it."""
    plans = _plans()
    allocations = _allocations()
    rows = [
        (f"Capital plan {pk} ({organization} – {program} – {year})",
         [f"total {format_vnd(amount)}, but its approved allocations add up to {format_vnd(allocated)}"])
        for pk, organization, program, year, amount, allocated in plans.order_by("pk").values_list(
            "pk", "organization__name", "program__code", "year", "amount", "allocated"
        )[:limit]
    ]
    listed = allocations.order_by("pk").values_list(
        "pk", "branch__name", "plan__program__code", "plan__year", "amount", "amount_committed", "amount_disbursed",
        "from_history", "paid", "waiting", "merged_in", "carried_in", "merged_out", "received",
    )[:limit]
    rows += [
        (f"Capital allocation {pk} ({branch} – {program} – {year})", _allocation_differences(*figures))
        for pk, branch, program, year, *figures in listed
    ]
    return plans.count() + allocations.count(), rows
