"""Writes that move money: the monthly collection sheet (13/TD), reversals, and the end-of-day overdue run."""

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from loans.interest import loan_period_interest
from loans.ledger import ZERO, net_amount, refresh_household_savings, refresh_loan_balances, with_derived_balances
from loans.models import (
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    Loan,
    LoanStatusChange,
    Posting,
    RepaymentInstalment,
)
from loans.money import format_vnd, to_decimal
from organizations.errors import DomainError
from organizations.models import GroupMembership, SavingsGroup

Kind = Posting.Kind
MIN_SAVINGS_DEPOSIT = Decimal(5_000)
COLLECTED_LOAN_STATUSES = (Loan.Status.ACTIVE, Loan.Status.FROZEN)
INTEREST_KINDS = (Kind.INTEREST, Kind.OVERDUE_INTEREST)
#: Due figures that, when they change between filling and posting, make the officer look again.
DUE_FIELDS = ("overdue_interest_due", "current_interest_due", "principal_due")
ITEM_DUE_FIELDS = (
    "period_start",
    "days",
    "outstanding",
    "overdue_principal",
    "arrears_before",
    "overdue_interest_accrued",
    "current_interest_due",
    "principal_due",
)


# ---------------------------------------------------------------------------------------------------------------
# What a group owes on a collection day
# ---------------------------------------------------------------------------------------------------------------


def _collected_loans(group, on):
    """Open loans of the group's current members, with the day their interest was last settled."""
    members = GroupMembership.objects.filter(group=group, left_on__isnull=True).values("household")
    last_sheet = (
        CollectionItem.objects.filter(loan=OuterRef("pk"), line__sheet__status=CollectionSheet.Status.POSTED)
        .exclude(line__status=CollectionLine.Status.OPEN)
        .order_by()
        .values("loan")
        .annotate(last=Max("line__sheet__collection_on"))
        .values("last")
    )
    last_interest = (
        Posting.objects.filter(loan=OuterRef("pk"), kind__in=INTEREST_KINDS)
        .order_by()
        .values("loan")
        .annotate(last=Max("on"))
        .values("last")
    )
    loans = (
        Loan.objects.filter(household__in=members, status__in=COLLECTED_LOAN_STATUSES, disbursed_on__lt=on)
        .filter(Q(principal_outstanding__gt=0) | Q(interest_arrears__gt=0))
        .annotate(last_sheet_on=Subquery(last_sheet), last_interest_on=Subquery(last_interest))
        .select_related("household")
        .order_by("household__search_name", "household_id", "disbursed_on", "number")
    )
    return list(loans)


def _loan_histories(loan_ids, on):
    """Per loan: signed principal movements before `on`, overdue marks, and the schedule up to `on`."""
    movements = defaultdict(list)
    rows = (
        Posting.objects.filter(loan_id__in=loan_ids, on__lt=on)
        .filter(
            Q(kind__in=[Kind.DISBURSEMENT, Kind.PRINCIPAL])
            | Q(kind=Kind.REVERSAL, reverses__kind__in=[Kind.DISBURSEMENT, Kind.PRINCIPAL])
        )
        .values_list("loan_id", "kind", "reverses__kind", "amount", "on")
    )
    for loan_id, kind, reversed_kind, amount, day in rows:
        sign = -1 if kind == Kind.REVERSAL else 1
        base = reversed_kind if kind == Kind.REVERSAL else kind
        if base == Kind.DISBURSEMENT:
            movements[loan_id].append((day, sign * amount, 0))
        else:
            movements[loan_id].append((day, 0, sign * amount))
    marks, scheduled_due = defaultdict(list), defaultdict(Decimal)
    cumulative = defaultdict(Decimal)
    instalments = RepaymentInstalment.objects.filter(loan_id__in=loan_ids).order_by("loan_id", "seq")
    for loan_id, principal, due_on, overdue_since in instalments.values_list(
        "loan_id", "principal", "due_on", "overdue_since"
    ):
        cumulative[loan_id] += principal
        if overdue_since is not None:
            marks[loan_id].append((overdue_since, cumulative[loan_id]))
        if due_on <= on:
            scheduled_due[loan_id] = cumulative[loan_id]
    paid = defaultdict(Decimal)
    totals = (
        Posting.objects.filter(loan_id__in=loan_ids)
        .order_by()
        .values("loan_id")
        .annotate(total=Sum(net_amount(Kind.PRINCIPAL)))
    )
    for row in totals:
        paid[row["loan_id"]] = row["total"] or Decimal(0)
    return movements, marks, scheduled_due, paid


def collection_dues(*, group, on):
    """{household: [CollectionItem (unsaved)]} of what each borrowing household owes on collection day `on`."""
    loans = _collected_loans(group, on)
    movements, marks, scheduled_due, paid = _loan_histories([loan.pk for loan in loans], on)
    dues = {}
    for loan in loans:
        start = max(d for d in (loan.disbursed_on, loan.last_sheet_on, loan.last_interest_on) if d is not None)
        start = min(start, on)
        interest = loan_period_interest(
            loan=loan, start=start, end=on, movements=movements[loan.pk], overdue_marks=marks[loan.pk]
        )
        principal_due = min(max(scheduled_due[loan.pk] - paid[loan.pk], Decimal(0)), loan.principal_outstanding)
        item = CollectionItem(
            loan=loan,
            period_start=start,
            days=interest.days,
            outstanding=loan.principal_outstanding,
            overdue_principal=loan.overdue_principal,
            arrears_before=loan.interest_arrears,
            overdue_interest_accrued=interest.overdue,
            current_interest_due=interest.current,
            principal_due=principal_due,
        )
        dues.setdefault(loan.household, []).append(item)
    return dues


def _sync_lines(sheet):
    """Bring the draft's due figures up to date, keeping what the officer entered. Returns True if any changed."""
    dues = collection_dues(group=sheet.group, on=sheet.collection_on)
    lines = {line.household_id: line for line in sheet.lines.prefetch_related("items")}
    changed = False
    new_lines, stale_items, new_items, updated_lines = [], [], [], []
    for position, (household, items) in enumerate(dues.items(), start=1):
        totals = {
            "overdue_interest_due": sum((i.overdue_interest_due for i in items), Decimal(0)),
            "current_interest_due": sum((i.current_interest_due for i in items), Decimal(0)),
            "principal_due": sum((i.principal_due for i in items), Decimal(0)),
        }
        line = lines.pop(household.pk, None)
        if line is None:
            line = CollectionLine(sheet=sheet, household=household, position=position, **totals)
            line.savings_before = household.savings_balance
            new_lines.append((line, items))
            changed = True
            continue
        old = [tuple(getattr(i, f) for f in ("loan_id", *ITEM_DUE_FIELDS)) for i in line.items.all()]
        new = [tuple(getattr(i, f) for f in ("loan_id", *ITEM_DUE_FIELDS)) for i in items]
        if old != new or line.savings_before != household.savings_balance or line.position != position:
            changed = changed or old != new or line.savings_before != household.savings_balance
            for field, value in totals.items():
                setattr(line, field, value)
            line.savings_before = household.savings_balance
            line.position = position
            updated_lines.append(line)
            if old != new:
                stale_items.append(line.pk)
                for item in items:
                    item.line = line
                    new_items.append(item)
    if lines:
        CollectionLine.objects.filter(pk__in=[line.pk for line in lines.values()]).delete()
        changed = True
    if new_lines:
        CollectionLine.objects.bulk_create([line for line, _items in new_lines])
        for line, items in new_lines:
            for item in items:
                item.line = line
                new_items.append(item)
    if updated_lines:
        CollectionLine.objects.bulk_update(updated_lines, [*DUE_FIELDS, "savings_before", "position"])
    CollectionItem.objects.filter(line_id__in=stale_items).delete()
    CollectionItem.objects.bulk_create(new_items)
    return changed


# ---------------------------------------------------------------------------------------------------------------
# The sheet: prepare, fill, post
# ---------------------------------------------------------------------------------------------------------------


def collection_sheet_create(*, group, on, actor):
    """A draft 13/TD for `group` on collection day `on`, prefilled with what every borrowing household owes."""
    today = timezone.localdate()
    if on > today:
        raise DomainError(_("The collection day cannot be in the future."), field="collection_on")
    with transaction.atomic():
        # One preparation at a time per group, so that two clicks cannot both pass the checks below.
        SavingsGroup.objects.select_for_update().filter(pk=group.pk).first()
        last = (
            CollectionSheet.objects.filter(group=group)
            .order_by("-collection_on")
            .values_list("collection_on", "status")
            .first()
        )
        if CollectionSheet.objects.filter(group=group, collection_on=on).exists():
            raise DomainError(
                _("This group already has a collection sheet for %(date)s.") % {"date": f"{on:%d/%m/%Y}"},
                field="collection_on",
            )
        if last is not None and last[0] > on and last[1] == CollectionSheet.Status.POSTED:
            raise DomainError(
                _("The group's last posted sheet is dated %(date)s; a new sheet must come after it.")
                % {"date": f"{last[0]:%d/%m/%Y}"},
                field="collection_on",
            )
        sheet = CollectionSheet.objects.create(group=group, collection_on=on, created_by=actor)
        _sync_lines(sheet)
    return sheet


def _amount(value):
    amount = to_decimal(value or 0)
    if amount < 0:
        raise DomainError(_("Amounts cannot be negative."))
    if amount != amount.to_integral_value():
        raise DomainError(_("Amounts are in whole đồng: %(value)s is not.") % {"value": value})
    return amount


def collection_sheet_save(*, sheet, entries, actor):
    """Store what the officer entered: {line id: (paid towards loans, savings deposit, savings withdrawal)}."""
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().get(pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet is already posted; correct it with a reversal."))
        lines = list(sheet.lines.filter(pk__in=list(entries)))
        for line in lines:
            paid, savings_in, savings_out = entries[line.pk]
            line.amount_paid = _amount(paid)
            line.savings_in, line.savings_out = _amount(savings_in), _amount(savings_out)
        CollectionLine.objects.bulk_update(lines, ["amount_paid", "savings_in", "savings_out"])
    return sheet


def _line_errors(line, items, loans, household):
    errors = []
    name = household.head_name
    if 0 < line.savings_in < MIN_SAVINGS_DEPOSIT:
        errors.append(
            _("%(name)s: a savings deposit is at least %(min)s.")
            % {"name": name, "min": format_vnd(MIN_SAVINGS_DEPOSIT)}
        )
    if line.savings_out > household.savings_balance + line.savings_in:
        errors.append(
            _("%(name)s: the withdrawal of %(amount)s is more than the savings balance of %(balance)s.")
            % {
                "name": name,
                "amount": format_vnd(line.savings_out),
                "balance": format_vnd(household.savings_balance + line.savings_in),
            }
        )
    most = sum(
        (i.overdue_interest_due + i.current_interest_due + loans[i.loan_id].principal_outstanding for i in items),
        Decimal(0),
    )
    if line.amount_paid > most:
        errors.append(
            _("%(name)s: %(amount)s is more than all the interest due and the outstanding principal (%(most)s).")
            % {"name": name, "amount": format_vnd(line.amount_paid), "most": format_vnd(most)}
        )
    return errors


def _allocate(line, items, loans):
    """Apply the payment: overdue interest, then current interest, then principal due, then early principal."""
    remaining = line.amount_paid
    for item in items:
        item.overdue_interest_paid = item.current_interest_paid = item.principal_paid = Decimal(0)

    def take(item, field, limit):
        nonlocal remaining
        share = min(remaining, max(limit, Decimal(0)))
        setattr(item, field, getattr(item, field) + share)
        remaining -= share

    for item in items:
        take(item, "overdue_interest_paid", item.overdue_interest_due)
    for item in items:
        take(item, "current_interest_paid", item.current_interest_due)
    for item in items:
        take(item, "principal_paid", item.principal_due)
    for item in items:
        take(item, "principal_paid", loans[item.loan_id].principal_outstanding - item.principal_paid)
    line.overdue_interest_paid = sum((i.overdue_interest_paid for i in items), Decimal(0))
    line.current_interest_paid = sum((i.current_interest_paid for i in items), Decimal(0))
    line.principal_paid = sum((i.principal_paid for i in items), Decimal(0))


def collection_sheet_post(*, sheet, actor):
    """Post a filled draft once: every line's postings, interest arrears and balances, all or nothing.

    A second submit finds the sheet posted and is refused. If what is due changed since the sheet was filled (a
    payment at the bank's desk, close_day), the new figures are saved and the officer is asked to look again.
    """
    with transaction.atomic():
        locked = CollectionSheet.objects.select_for_update().select_related("group").get(pk=sheet.pk)
        if not locked.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        changed = _sync_lines(locked)
    if changed:
        raise DomainError(
            _("What is due changed since the sheet was filled (a payment or an overdue instalment). The new figures "
              "are shown; check the amounts and post again.")
        )
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().select_related("group").get(pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        if _sync_lines(sheet):
            raise DomainError(_("What is due changed while posting; post again."))
        lines = list(sheet.lines.all())
        items = list(
            CollectionItem.objects.filter(line__sheet=sheet).order_by("line_id", "loan__disbursed_on", "loan__number")
        )
        loans = Loan.objects.select_for_update().in_bulk([item.loan_id for item in items])
        households = Household.objects.select_for_update().in_bulk([line.household_id for line in lines])
        by_line = defaultdict(list)
        for item in items:
            by_line[item.line_id].append(item)
        errors = []
        for line in lines:
            errors += _line_errors(line, by_line[line.pk], loans, households[line.household_id])
        if errors:
            raise DomainError(" ".join(errors))
        note = _("13/TD %(group)s %(date)s") % {"group": sheet.group.code, "date": f"{sheet.collection_on:%d/%m/%Y}"}
        postings, owners = [], []
        for line in lines:
            line_items = by_line[line.pk]
            _allocate(line, line_items, loans)
            line.status = CollectionLine.Status.POSTED
            for item in line_items:
                loan = loans[item.loan_id]
                for kind, amount in (
                    (Kind.OVERDUE_INTEREST, item.overdue_interest_paid),
                    (Kind.INTEREST, item.current_interest_paid),
                    (Kind.PRINCIPAL, item.principal_paid),
                ):
                    if amount > 0:
                        postings.append(Posting(kind=kind, household_id=line.household_id, loan=loan, amount=amount,
                                                on=sheet.collection_on, note=note, created_by=actor))
                        owners.append(line)
                loan.interest_arrears = (
                    item.overdue_interest_due + item.current_interest_due
                    - item.overdue_interest_paid - item.current_interest_paid
                )
            for kind, amount in ((Kind.SAVINGS_IN, line.savings_in), (Kind.SAVINGS_OUT, line.savings_out)):
                if amount > 0:
                    postings.append(Posting(kind=kind, household_id=line.household_id, amount=amount,
                                            on=sheet.collection_on, note=note, created_by=actor))
                    owners.append(line)
        Posting.objects.bulk_create(postings)
        through = CollectionLine.postings.through
        through.objects.bulk_create(
            [through(collectionline_id=line.pk, posting_id=p.pk) for p, line in zip(postings, owners, strict=True)]
        )
        CollectionItem.objects.bulk_update(items, ["overdue_interest_paid", "current_interest_paid", "principal_paid"])
        CollectionLine.objects.bulk_update(
            lines, ["status", "overdue_interest_paid", "current_interest_paid", "principal_paid"]
        )
        Loan.objects.bulk_update(list(loans.values()), ["interest_arrears"])
        refresh_loan_balances(list(loans))
        refresh_household_savings(list(households))
        for loan in Loan.objects.filter(
            pk__in=list(loans), status=Loan.Status.ACTIVE, principal_outstanding=0, interest_arrears=0
        ):
            loan.transition_to(Loan.Status.CLOSED, actor=actor, note=note, on=sheet.collection_on)
        sheet.status = CollectionSheet.Status.POSTED
        sheet.posted_by = actor
        sheet.posted_at = timezone.now()
        sheet.save(update_fields=["status", "posted_by", "posted_at"])
    return sheet


# ---------------------------------------------------------------------------------------------------------------
# Corrections: reversals, never edits
# ---------------------------------------------------------------------------------------------------------------


def _reverse(posting, reason, actor, on):
    if posting.kind == Kind.REVERSAL:
        raise DomainError(_("A reversal cannot itself be reversed; enter the correct amount again instead."))
    if Posting.objects.filter(reverses=posting).exists():
        raise DomainError(_("This posting was already reversed."))
    loan = Loan.objects.select_for_update().get(pk=posting.loan_id) if posting.loan_id else None
    household = Household.objects.select_for_update().get(pk=posting.household_id)
    if posting.kind == Kind.SAVINGS_IN and household.savings_balance < posting.amount:
        raise DomainError(
            _("%(name)s has only %(balance)s of savings left; the deposit of %(amount)s cannot be reversed.")
            % {"name": household.head_name, "balance": format_vnd(household.savings_balance),
               "amount": format_vnd(posting.amount)}
        )
    if posting.kind == Kind.DISBURSEMENT and loan.principal_outstanding < posting.amount:
        raise DomainError(_("Part of this disbursement was already repaid; reverse the repayments first."))
    reversal = Posting.objects.create(
        kind=Kind.REVERSAL,
        household=household,
        loan=loan,
        amount=posting.amount,
        on=on,
        reverses=posting,
        note=reason[:300],
        created_by=actor,
    )
    for line in posting.collection_lines.all():
        line.postings.add(reversal)
    if loan is not None:
        if posting.kind in INTEREST_KINDS:
            # The interest is owed again: it goes back to the arrears the next sheet collects.
            Loan.objects.filter(pk=loan.pk).update(interest_arrears=F("interest_arrears") + posting.amount)
        if posting.kind in (Kind.PRINCIPAL, *INTEREST_KINDS) and loan.status == Loan.Status.CLOSED:
            Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE, updated_at=timezone.now())
            LoanStatusChange.objects.create(
                loan=loan, from_status=Loan.Status.CLOSED, to_status=Loan.Status.ACTIVE, actor=actor, on=on,
                note=_("Reopened: a repayment was reversed (%(reason)s).") % {"reason": reason},
            )
        refresh_loan_balances([loan.pk])
    refresh_household_savings([household.pk])
    return reversal


def _clean_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for the reversal."), field="reason")
    return reason


def posting_reverse(*, posting, reason, actor, on=None):
    """Undo one posting with a REVERSAL that points at it; the original stays in the ledger."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        posting = Posting.objects.select_for_update().get(pk=posting.pk)
        return _reverse(posting, reason, actor, on or timezone.localdate())


def collection_line_reverse(*, line, reason, actor, on=None):
    """Undo a posted sheet line: every posting of it still standing is reversed, all or nothing."""
    reason = _clean_reason(reason)
    on = on or timezone.localdate()
    with transaction.atomic():
        line = CollectionLine.objects.select_for_update().get(pk=line.pk)
        if line.status != CollectionLine.Status.POSTED:
            raise DomainError(_("Only a posted line can be reversed."))
        standing = line.postings.filter(reversed_by__isnull=True).exclude(kind=Kind.REVERSAL).values("pk")
        postings = list(Posting.objects.select_for_update().filter(pk__in=standing).order_by("pk"))
        # Withdrawals first, so that undoing a deposit never looks like it empties the account.
        postings.sort(key=lambda p: p.kind != Kind.SAVINGS_OUT)
        for posting in postings:
            _reverse(posting, reason, actor, on)
        line.status = CollectionLine.Status.REVERSED
        line.reversal_reason = reason[:300]
        line.reversed_by = actor
        line.reversed_at = timezone.now()
        line.save(update_fields=["status", "reversal_reason", "reversed_by", "reversed_at"])
    return line


# ---------------------------------------------------------------------------------------------------------------
# End of day: missed instalments become overdue
# ---------------------------------------------------------------------------------------------------------------


def missed_instalments(on):
    """Instalments due before `on`, not yet marked, that the loan's repayments (FIFO by seq) do not cover."""
    scheduled_through = (
        RepaymentInstalment.objects.filter(loan=OuterRef("loan"), seq__lte=OuterRef("seq"))
        .order_by()
        .values("loan")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    repaid = (
        Posting.objects.filter(loan=OuterRef("loan"), on__lte=on)
        .order_by()
        .values("loan")
        .annotate(total=Sum(net_amount(Kind.PRINCIPAL)))
        .values("total")
    )
    return (
        RepaymentInstalment.objects.filter(due_on__lt=on, overdue_since__isnull=True, loan__status=Loan.Status.ACTIVE)
        .annotate(scheduled_through=Subquery(scheduled_through), repaid=Coalesce(Subquery(repaid), ZERO))
        .filter(scheduled_through__gt=F("repaid"))
    )


def overdue_close_day(*, on):
    """Mark missed instalments overdue as of `on` and bring cached balances in line; returns what changed.

    Two statements do the work whatever the number of loans; a second run for the same day finds nothing.
    """
    with transaction.atomic():
        missed = missed_instalments(on)
        marked = list(
            missed.order_by("loan__number", "seq").values(
                "pk", "loan__number", "loan__household__head_name", "seq", "due_on", "principal", "scheduled_through",
                "repaid",
            )
        )
        RepaymentInstalment.objects.filter(pk__in=missed.values("pk")).update(overdue_since=on)
        stale = with_derived_balances(Loan.objects.all()).filter(
            ~Q(principal_outstanding=F("derived_outstanding")) | ~Q(overdue_principal=F("derived_overdue"))
        )
        stale_ids = list(stale.values_list("pk", flat=True))
        refresh_loan_balances(stale_ids)
    return marked, stale_ids
