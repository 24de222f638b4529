"""The loan's statement (sao kê): its postings with a running principal balance, interest and overdue periods,
changes and loan-use checks, read in a fixed number of queries whatever the loan's age."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from loans.models import CollectionItem, CollectionLine, Loan, Posting

Kind = Posting.Kind
# How each kind moves the principal balance; a reversal moves it back the other way.
PRINCIPAL_SIGN = {Kind.DISBURSEMENT: 1, Kind.PRINCIPAL: -1}
INTEREST_KINDS = (Kind.INTEREST, Kind.OVERDUE_INTEREST)


@dataclass
class StatementEntry:
    posting: Posting
    on: date
    label: str
    disbursed: Decimal = Decimal(0)
    principal_repaid: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    is_reversal: bool = False
    is_correction: bool = False  # written by reconciliation with the bank's figures
    reversed_on: date | None = None
    line: CollectionLine | None = None


@dataclass
class OverduePeriod:
    seq: int
    due_on: date
    principal: Decimal
    since: date
    settled_on: date | None = None


@dataclass
class Statement:
    loan: Loan
    entries: list = field(default_factory=list)
    interest_periods: list = field(default_factory=list)
    overdue_periods: list = field(default_factory=list)
    instalments: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    use_checks: list = field(default_factory=list)
    status_changes: list = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def balance(self):
        return self.entries[-1].balance if self.entries else Decimal(0)


def _entry(posting):
    """One posting as a statement row: signed amounts in the column of the kind it moves."""
    original = posting.reverses if posting.kind == Kind.REVERSAL else posting
    sign = -1 if posting.kind == Kind.REVERSAL else 1
    entry = StatementEntry(
        posting=posting, on=posting.on, label=posting.get_kind_display(), is_reversal=posting.kind == Kind.REVERSAL,
        is_correction=posting.import_batch_id is not None,
    )
    amount = posting.amount * sign
    if original.kind == Kind.DISBURSEMENT:
        entry.disbursed = amount
    elif original.kind == Kind.PRINCIPAL:
        entry.principal_repaid = amount
    elif original.kind in INTEREST_KINDS:
        entry.interest = amount
    if entry.is_reversal:
        entry.label = f"{posting.get_kind_display()}: {original.get_kind_display()} {original.on:%d/%m/%Y}"
    elif posting.restores_id:
        entry.label = _("%(kind)s, entered again (its reversal undone)") % {"kind": posting.get_kind_display()}
    return entry


def statement_entries(loan):
    """The loan's postings oldest first, each with the principal balance after it, and the totals of each column."""
    postings = list(
        loan.postings.select_related("reverses", "created_by", "request__requested_by")
        .prefetch_related(Prefetch("collection_lines", queryset=CollectionLine.objects.select_related("sheet")))
        .order_by("on", "pk")
    )
    # A reversal is a posting of the same loan, so the list itself says which entries were reversed, and when: it
    # takes the original's value date, so the day it was booked is what tells when.
    reversed_on = {
        posting.reverses_id: timezone.localtime(posting.created_at).date() for posting in postings if posting.reverses_id
    }
    entries, balance = [], Decimal(0)
    for posting in postings:
        entry = _entry(posting)
        balance += entry.disbursed - entry.principal_repaid
        entry.balance = balance
        entry.reversed_on = reversed_on.get(posting.pk)
        lines = posting.collection_lines.all()
        entry.line = lines[0] if lines else None
        entries.append(entry)
    totals = {
        column: sum((getattr(e, column) for e in entries), Decimal(0))
        for column in ("disbursed", "principal_repaid", "interest")
    }
    return entries, totals


def loan_statement(loan):
    """Everything that happened to `loan`, oldest first. `loan` comes from loans_for(user), so it is in scope."""
    statement = Statement(loan=loan)
    statement.entries, statement.totals = statement_entries(loan)
    # (date, principal repaid so far) after each posting, to date when an overdue instalment was settled.
    repaid_after, repaid = [], Decimal(0)
    for entry in statement.entries:
        repaid += entry.principal_repaid
        repaid_after.append((entry.on, repaid))

    statement.instalments = list(loan.instalments.order_by("due_on", "seq"))
    scheduled = Decimal(0)
    for instalment in statement.instalments:
        scheduled += instalment.principal
        if instalment.overdue_since is None:
            continue
        period = OverduePeriod(instalment.seq, instalment.due_on, instalment.principal, instalment.overdue_since)
        # Repayments settle the earliest instalment first: settled once the repaid total covers it, and stays so.
        for on, paid in repaid_after:
            if paid >= scheduled and on >= instalment.overdue_since:
                period.settled_on = period.settled_on or on
            elif paid < scheduled:
                period.settled_on = None
        statement.overdue_periods.append(period)

    items = (
        CollectionItem.objects.filter(loan=loan)
        .exclude(line__status=CollectionLine.Status.OPEN)
        .select_related("line__sheet")
        .order_by("line__sheet__collection_on", "pk")
    )
    for item in items:
        item.period_end = item.period_start + timedelta(days=item.days)
        statement.interest_periods.append(item)

    statement.changes = list(
        loan.changes.select_related("instalment", "requested_by", "decided_by").order_by("requested_on", "pk")
    )
    statement.use_checks = list(loan.use_checks.select_related("checked_by").order_by("checked_on", "pk"))
    statement.status_changes = list(loan.status_changes.select_related("actor").order_by("on", "pk"))
    for change in statement.status_changes:  # stored as codes; shown by their labels
        change.from_label, change.to_label = _status_label(change.from_status), _status_label(change.to_status)
    return statement


def _status_label(code):
    try:
        return Loan.Status(code).label
    except ValueError:
        return code
