"""The monthly collection sheet (13/TD): what a group owes on a collection day, the sheet, its lines and posting."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Max, OuterRef, Prefetch, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from borrowers.models import Household
from loans.calendar import WorkingCalendar
from loans.interest import RateHistory, loan_period_interest
from loans.ledger.arrears import record_arrears_changes
from loans.ledger.balances import net_amount, refresh_balances
from loans.models import (
    CollectionItem,
    CollectionLine,
    CollectionSheet,
    InterestArrearsEntry,
    Loan,
    Posting,
    ProgramRate,
    RepaymentInstalment,
)
from loans.models.pipeline import note_params
from loans.money import format_vnd, to_decimal
from loans.selectors.collection import collection_sheets_for
from loans.services.overdue import loan_status_histories, overdue_start
from organizations.audit import audit_context
from organizations.bulk import bulk_set
from organizations.dates import check_business_date
from organizations.errors import DomainError
from organizations.models import GroupMembership, SavingsGroup
from organizations.policy import authorize
from organizations.selectors.scope import groups_for

PostingKind = Posting.Kind


MIN_SAVINGS_DEPOSIT = Decimal(5_000)
COLLECTED_LOAN_STATUSES = (Loan.Status.ACTIVE, Loan.Status.FROZEN)
INTEREST_KINDS = (PostingKind.INTEREST, PostingKind.OVERDUE_INTEREST)
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
        .annotate(last_interest_on=Subquery(last_interest))
        .select_related("household")
        .order_by("household__search_name", "household_id", "disbursed_on", "number")
    )
    loans = list(loans)
    # A separate query keyed by the loans found, rather than a correlated subquery: with a subquery PostgreSQL may
    # walk every posted sheet per loan when its statistics lag behind a busy collection day (250 ms instead of 2).
    last_sheet = dict(
        CollectionItem.objects.filter(
            loan__in=[loan.pk for loan in loans], line__sheet__status=CollectionSheet.Status.POSTED
        )
        .exclude(line__status=CollectionLine.Status.OPEN)
        .order_by()
        .values("loan")
        .annotate(last=Max("line__sheet__collection_on"))
        .values_list("loan", "last")
    )
    for loan in loans:
        loan.last_sheet_on = last_sheet.get(loan.pk)
    return loans


def _loan_histories(loan_ids, on):
    """Per loan: signed principal movements before `on`, overdue marks, the schedule up to `on`, principal repaid,
    and the status and rate histories that say how each day accrues (a fixed number of queries)."""
    movements = defaultdict(list)
    rows = (
        Posting.objects.filter(loan_id__in=loan_ids, on__lt=on)
        .filter(
            Q(kind__in=[PostingKind.DISBURSEMENT, PostingKind.PRINCIPAL])
            | Q(kind=PostingKind.REVERSAL, reverses__kind__in=[PostingKind.DISBURSEMENT, PostingKind.PRINCIPAL])
        )
        .values_list("loan_id", "kind", "reverses__kind", "amount", "on")
    )
    for loan_id, kind, reversed_kind, amount, day in rows:
        sign = -1 if kind == PostingKind.REVERSAL else 1
        base = reversed_kind if kind == PostingKind.REVERSAL else kind
        if base == PostingKind.DISBURSEMENT:
            movements[loan_id].append((day, sign * amount, 0))
        else:
            movements[loan_id].append((day, 0, sign * amount))
    statuses = loan_status_histories(loan_ids)
    marks, scheduled_due = defaultdict(list), defaultdict(Decimal)
    cumulative = defaultdict(Decimal)
    instalments = list(
        RepaymentInstalment.objects.filter(loan_id__in=loan_ids)
        .order_by("loan_id", "seq")
        .values_list("loan_id", "principal", "due_on", "overdue_since")
    )
    calendar = WorkingCalendar.for_span(min((row[2] for row in instalments), default=on), on)
    for loan_id, principal, due_on, overdue_since in instalments:
        cumulative[loan_id] += principal
        if overdue_since is None and due_on < on:
            # Not marked yet (the day close has not run since): the same rule, so the sheet does not depend on it.
            overdue_since = overdue_start(
                effective_due=calendar.on_or_after(due_on), scheduled_through=cumulative[loan_id],
                repayments=sorted((day, paid) for day, _disbursed, paid in movements[loan_id] if paid),
                history=statuses[loan_id], until=on,
            )
        if overdue_since is not None:
            marks[loan_id].append((overdue_since, cumulative[loan_id]))
        if due_on <= on:
            scheduled_due[loan_id] = cumulative[loan_id]
    paid = defaultdict(Decimal)
    totals = (
        Posting.objects.filter(loan_id__in=loan_ids)
        .order_by()
        .values("loan_id")
        .annotate(total=Sum(net_amount(PostingKind.PRINCIPAL)))
    )
    for row in totals:
        paid[row["loan_id"]] = row["total"] or Decimal(0)
    return movements, marks, scheduled_due, paid, statuses


def _rate_decisions(loans):
    """{program id: [(effective from, annual rate)]} for the programs of `loans` (one query)."""
    decisions = defaultdict(list)
    rows = ProgramRate.objects.filter(program_id__in={loan.program_id for loan in loans})
    for program_id, day, rate in rows.values_list("program_id", "effective_from", "annual_rate"):
        decisions[program_id].append((day, rate))
    return decisions


def collection_dues(*, group, on):
    """{household: [CollectionItem (unsaved)]} of what each borrowing household owes on collection day `on`."""
    loans = _collected_loans(group, on)
    movements, marks, scheduled_due, paid, statuses = _loan_histories([loan.pk for loan in loans], on)
    decisions = _rate_decisions(loans)
    dues = {}
    for loan in loans:
        start = max(d for d in (loan.disbursed_on, loan.last_sheet_on, loan.last_interest_on) if d is not None)
        start = min(start, on)
        interest = loan_period_interest(
            loan=loan, start=start, end=on, movements=movements[loan.pk], overdue_marks=marks[loan.pk],
            statuses=statuses[loan.pk],
            rates=RateHistory(loan.annual_rate, decisions[loan.program_id], disbursed_on=loan.disbursed_on),
        )
        principal_due = min(max(scheduled_due[loan.pk] - paid[loan.pk], Decimal(0)), loan.principal_outstanding)
        # From the same marks as the overdue interest (derived for days not yet closed), not the cached balance that
        # only the day close writes; FIFO over the schedule as in the ledger's derived balance.
        overdue_through = max((through for since, through in marks[loan.pk] if since <= on), default=Decimal(0))
        overdue_principal = min(max(overdue_through - paid[loan.pk], Decimal(0)), loan.principal_outstanding)
        item = CollectionItem(
            loan=loan,
            period_start=start,
            days=interest.days,
            outstanding=loan.principal_outstanding,
            overdue_principal=overdue_principal,
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
        bulk_set(updated_lines, [*DUE_FIELDS, "savings_before", "position"])
    CollectionItem.objects.filter(line_id__in=stale_items).delete()
    CollectionItem.objects.bulk_create(new_items)
    return changed


# ---------------------------------------------------------------------------------------------------------------
# The sheet: prepare, fill, post
# ---------------------------------------------------------------------------------------------------------------


def collection_sheet_create(*, group, on, actor):
    """A draft 13/TD for `group` on collection day `on`, prefilled with what every borrowing household owes."""
    authorize(actor, "collection.create", scoped=groups_for, pk=group.pk)
    today = timezone.localdate()
    if on > today:
        raise DomainError(_("The collection day cannot be in the future."), field="collection_on")
    check_business_date(on, field="collection_on")
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
    try:
        amount = to_decimal(value or 0)
    except (TypeError, ValueError):
        raise DomainError(_("Amounts are in whole đồng: %(value)s is not.") % {"value": value}) from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise DomainError(_("Amounts are in whole đồng: %(value)s is not.") % {"value": value})
    if amount < 0:
        raise DomainError(_("Amounts cannot be negative."))
    # One household's payment or deposit on one collection day; anything above is a typing slip, and an amount
    # too long for the column would break the sheet's pages for everyone.
    if amount > settings.MONEY_MAX_COLLECTION:
        raise DomainError(
            _("%(value)s is more than one collection day can take (at most %(max)s).")
            % {"value": format_vnd(amount), "max": format_vnd(settings.MONEY_MAX_COLLECTION)}
        )
    return amount


@dataclass(frozen=True)
class Entry:
    """What the officer typed in one row. `blank`: nothing typed at all (the row is not entered, not even as "paid
    nothing"). `version`: the row's version the officer typed over; None when the caller does not check it."""

    paid: object = 0
    savings_in: object = 0
    savings_out: object = 0
    blank: bool = False
    version: int | None = None

    @classmethod
    def of(cls, value):
        return value if isinstance(value, Entry) else cls(*value)


class RowProblems(DomainError):
    """Rows that were not saved: refused by a rule (`row_errors`, {line id: [(field, message)]}), or saved by someone
    else since the officer opened them (`conflicts`, {line id: the line as it is stored now}). Every other row of the
    save was stored."""

    def __init__(self, *, errors=None, conflicts=None):
        self.row_errors = errors or {}
        self.conflicts = conflicts or {}
        parts = []
        if self.row_errors:
            parts.append(ngettext(
                "%(count)s row was not saved: correct the amounts marked.",
                "%(count)s rows were not saved: correct the amounts marked.",
                len(self.row_errors)) % {"count": len(self.row_errors)})
        if self.conflicts:
            parts.append(ngettext(
                "%(count)s row was changed by someone else meanwhile: choose which amounts to keep.",
                "%(count)s rows were changed by someone else meanwhile: choose which amounts to keep.",
                len(self.conflicts)) % {"count": len(self.conflicts)})
        #: For a page that shows each error under its field.
        self.summary = " ".join(parts)
        # Pages that show only the message (a correction row) still say what is wrong.
        details = [message for problems in self.row_errors.values() for _field, message in problems]
        super().__init__(" ".join(parts + details))


class UnenteredRows(DomainError):
    """Posting would take rows with nothing entered as paying nothing: the officer confirms their number first."""

    def __init__(self, lines):
        self.lines = lines
        self.arrears = sum((line.interest_due for line in lines), Decimal(0))
        super().__init__(ngettext(
            "%(count)s household has nothing entered. Posting takes it as paying nothing, which adds %(arrears)s of "
            "interest arrears. Enter its amounts, mark it as paying nothing, or confirm below.",
            "%(count)s households have nothing entered. Posting takes them as paying nothing, which adds %(arrears)s "
            "of interest arrears. Enter their amounts, mark them as paying nothing, or confirm below.",
            len(lines)) % {"count": len(lines), "arrears": format_vnd(self.arrears)})


def _entry_lines(sheet, line_ids):
    items = Prefetch("items", queryset=CollectionItem.objects.select_related("loan"))
    return sheet.lines.filter(pk__in=line_ids).select_related("household").prefetch_related(items)


def _store_entries(sheet, entries, actor):
    """Store what was typed, row by row, checked by the posting's own rules. Returns the rows not stored, as
    (errors, conflicts) of RowProblems: they keep the amounts stored before."""
    entries = {pk: Entry.of(value) for pk, value in entries.items()}
    errors, conflicts, changed = {}, {}, []
    now = timezone.now()
    for line in _entry_lines(sheet, list(entries)):
        entry = entries[line.pk]
        typed = (_amount(entry.paid), _amount(entry.savings_in), _amount(entry.savings_out))
        if typed == (line.amount_paid, line.savings_in, line.savings_out) and line.is_entered != entry.blank:
            continue
        if entry.version is not None and entry.version != line.version:
            conflicts[line.pk] = line
            continue
        line.amount_paid, line.savings_in, line.savings_out = typed
        items = list(line.items.all())
        problems = _line_errors(line, items, {i.loan_id: i.loan.principal_outstanding for i in items}, line.household)
        if problems:
            errors[line.pk] = problems
            continue
        line.entered_at, line.entered_by = (None, None) if entry.blank else (now, actor)
        line.version += 1
        changed.append(line)
    bulk_set(changed, ["amount_paid", "savings_in", "savings_out", "entered_at", "entered_by", "version"])
    return errors, conflicts


def collection_sheet_save(*, sheet, entries, actor):
    """Store what the officer entered: {line id: Entry or (paid towards loans, savings deposit, savings withdrawal)}.

    Rows refused by a rule or changed by someone else meanwhile are not stored; RowProblems names them after the
    others are saved."""
    with transaction.atomic():
        sheet = CollectionSheet.objects.select_for_update().get(pk=sheet.pk)
        authorize(actor, "collection.save", scoped=collection_sheets_for, pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet is already posted; correct it with a reversal."))
        errors, conflicts = _store_entries(sheet, entries, actor)
    if errors or conflicts:
        raise RowProblems(errors=errors, conflicts=conflicts)
    return sheet


def collection_line_save(*, line, entry, actor):
    """One row's draft, saved as the officer leaves it. Returns the row as stored; raises RowProblems."""
    collection_sheet_save(sheet=line.sheet, entries={line.pk: entry}, actor=actor)
    return CollectionLine.objects.select_related("entered_by").get(pk=line.pk)


def collection_sheet_discard(*, sheet, actor):
    """Delete a half-entered draft with its lines: nothing of it was posted, so nothing about money is lost.

    Only a ward officer of the sheet's branch (or an admin) may; the deletion of the sheet, its lines and their loans
    is recorded in the audit trail with who did it, the group and the collection day.
    """
    authorize(actor, "collection.discard", scoped=collection_sheets_for, pk=sheet.pk)
    with transaction.atomic(), audit_context(actor=actor):
        try:
            sheet = _lock_sheet_for_posting(sheet)
        except CollectionSheet.DoesNotExist:
            raise DomainError(_("This collection sheet was already deleted.")) from None
        posted = sheet.lines.exclude(status=CollectionLine.Status.OPEN).exists() or Posting.objects.filter(
            collection_lines__sheet=sheet
        ).exists()
        if not sheet.is_draft or posted:
            raise DomainError(_("This sheet is posted: it cannot be deleted. Correct its rows with reversals."))
        # The lines and their loans go with the sheet (on_delete=CASCADE); each deletion is an audit row.
        sheet.delete()
    return sheet


def _line_errors(line, items, outstanding, household):
    """[(field, message)] of the rules a row's amounts break: the same at the draft save and at posting.
    `outstanding`: {loan id: principal outstanding}."""
    errors = []
    name = household.head_name
    if 0 < line.savings_in < MIN_SAVINGS_DEPOSIT:
        errors.append(("savings_in", _("%(name)s: a savings deposit is at least %(min)s.")
                       % {"name": name, "min": format_vnd(MIN_SAVINGS_DEPOSIT)}))
    if line.savings_out > household.savings_balance + line.savings_in:
        errors.append(("savings_out", _(
            "%(name)s: the withdrawal of %(amount)s is more than the savings balance of %(balance)s.")
            % {"name": name, "amount": format_vnd(line.savings_out),
               "balance": format_vnd(household.savings_balance + line.savings_in)}))
    most = sum(
        (i.overdue_interest_due + i.current_interest_due + outstanding[i.loan_id] for i in items), Decimal(0),
    )
    if line.amount_paid > most:
        errors.append(("paid", _(
            "%(name)s: %(amount)s is more than all the interest due and the outstanding principal (%(most)s).")
            % {"name": name, "amount": format_vnd(line.amount_paid), "most": format_vnd(most)}))
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


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code for SELECT … FOR UPDATE NOWAIT on a locked row


def _lock_sheet_for_posting(sheet):
    """The sheet, locked. A colleague posting it at this moment holds the lock for a second or more: say so at once
    instead of keeping a web worker (and the officer) waiting for a post that will then be refused anyway."""
    try:
        return CollectionSheet.objects.select_for_update(nowait=True).select_related("group").get(pk=sheet.pk)
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise DomainError(_("Another officer is saving or posting this sheet right now. Open it again in a moment.")) from None


def collection_sheet_post(*, sheet, actor, entries=None, nothing_paid=None):
    """Post a filled draft once: every line's postings, interest arrears and balances, all or nothing.

    A second submit finds the sheet posted and is refused. If what is due changed since the sheet was filled (a
    payment at the bank's desk, close_day), the new figures are saved and the officer is asked to look again.
    `entries` (as for collection_sheet_save) are stored under the same lock as the posting, so the amounts posted
    are this officer's even if a colleague saves other amounts on the same sheet in between; a row a colleague
    changed meanwhile is not overwritten, and nothing is posted until the officer chose.

    Rows with nothing entered are not assumed to pay nothing: posting refuses with UnenteredRows unless
    `nothing_paid` is their number, the officer's one confirmation of how many households paid nothing.
    """
    with transaction.atomic():
        sheet = _lock_sheet_for_posting(sheet)
        authorize(actor, "collection.post", scoped=collection_sheets_for, pk=sheet.pk)
        if not sheet.is_draft:
            raise DomainError(_("This sheet was already posted; nothing was posted twice."))
        errors, conflicts = _store_entries(sheet, entries, actor) if entries is not None else ({}, {})
        # When what is due changed, the new figures are kept (the block commits) for the officer to check, and
        # nothing is posted. A refused posting is undone to its savepoint; the amounts entered stay saved.
        changed = _sync_lines(sheet)
        refusal = None
        if errors or conflicts:
            refusal = RowProblems(errors=errors, conflicts=conflicts)
        elif not changed:
            unentered = list(sheet.lines.filter(entered_at__isnull=True, corrects__isnull=True)
                             .select_related("household").order_by("position", "pk"))
            if unentered and nothing_paid != len(unentered):
                refusal = UnenteredRows(unentered)
            else:
                try:
                    with transaction.atomic():
                        _post_lines(sheet, actor)
                except DomainError as error:
                    refusal = error
    if changed and refusal is None:
        raise DomainError(
            _("What is due changed since the sheet was filled (a payment or an overdue instalment). The new figures "
              "are shown; check the amounts and post again.")
        )
    if refusal is not None:
        raise refusal
    return sheet


def _post_lines(sheet, actor, lines=None):
    """Write the postings of a locked, synced draft sheet and mark it posted; or, given `lines` (a correction on a
    posted sheet), post only those lines."""
    whole_sheet = lines is None
    lines = list(sheet.lines.all()) if whole_sheet else list(lines)
    scope = {"line__sheet": sheet} if whole_sheet else {"line__in": [line.pk for line in lines]}
    items = list(CollectionItem.objects.filter(**scope).order_by("line_id", "loan__disbursed_on", "loan__number"))
    loans = Loan.objects.select_for_update().in_bulk([item.loan_id for item in items])
    households = Household.objects.select_for_update().in_bulk([line.household_id for line in lines])
    by_line = defaultdict(list)
    for item in items:
        by_line[item.line_id].append(item)
    outstanding = {pk: loan.principal_outstanding for pk, loan in loans.items()}
    errors = {}
    for line in lines:
        problems = _line_errors(line, by_line[line.pk], outstanding, households[line.household_id])
        if problems:
            errors[line.pk] = problems
    if errors:
        raise RowProblems(errors=errors)
    note = _("13/TD %(group)s %(date)s") % {"group": sheet.group.code, "date": f"{sheet.collection_on:%d/%m/%Y}"}
    arrears_before = {pk: loan.interest_arrears for pk, loan in loans.items()}
    postings, owners = [], []
    for line in lines:
        line_items = by_line[line.pk]
        _allocate(line, line_items, loans)
        line.status = CollectionLine.Status.POSTED
        for item in line_items:
            loan = loans[item.loan_id]
            for kind, amount in (
                (PostingKind.OVERDUE_INTEREST, item.overdue_interest_paid),
                (PostingKind.INTEREST, item.current_interest_paid),
                (PostingKind.PRINCIPAL, item.principal_paid),
            ):
                if amount > 0:
                    postings.append(Posting(kind=kind, household_id=line.household_id, loan=loan, amount=amount,
                                            on=sheet.collection_on, note=note, created_by=actor))
                    owners.append(line)
            loan.interest_arrears = (
                item.overdue_interest_due + item.current_interest_due
                - item.overdue_interest_paid - item.current_interest_paid
            )
        for kind, amount in ((PostingKind.SAVINGS_IN, line.savings_in), (PostingKind.SAVINGS_OUT, line.savings_out)):
            if amount > 0:
                postings.append(Posting(kind=kind, household_id=line.household_id, amount=amount,
                                        on=sheet.collection_on, note=note, created_by=actor))
                owners.append(line)
    Posting.objects.bulk_create(postings)
    through = CollectionLine.postings.through
    through.objects.bulk_create(
        [through(collectionline_id=line.pk, posting_id=p.pk) for p, line in zip(postings, owners, strict=True)]
    )
    bulk_set(items, ["overdue_interest_paid", "current_interest_paid", "principal_paid"])
    bulk_set(lines, ["status", "overdue_interest_paid", "current_interest_paid", "principal_paid"])
    bulk_set(loans.values(), ["interest_arrears"])
    record_arrears_changes(
        {pk: loan.interest_arrears - arrears_before[pk] for pk, loan in loans.items()},
        on=sheet.collection_on,
        source=InterestArrearsEntry.Source.COLLECTION,
    )
    # A sheet may be dated before today: the snapshots of past dates are corrected from its day on.
    refresh_balances(loan_ids=loans, household_ids=households, since=sheet.collection_on)
    for loan in Loan.objects.filter(
        pk__in=list(loans), status=Loan.Status.ACTIVE, principal_outstanding=0, interest_arrears=0
    ):
        loan.transition_to(Loan.Status.CLOSED, actor=actor, on=sheet.collection_on, note_code="sheet_posted",
                           note_params=note_params(group=sheet.group.code, date=sheet.collection_on))
    if not whole_sheet:
        return
    sheet.status = CollectionSheet.Status.POSTED
    sheet.posted_by = actor
    sheet.posted_at = timezone.now()
    sheet.save(update_fields=["status", "posted_by", "posted_at"])
