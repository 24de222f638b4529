"""The append-only ledger (postings, interest arrears entries) and the summaries and snapshots derived from it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.models.bankfiles import ImportBatch
from loans.models.loans import Loan
from loans.models.programs import LoanProgram
from loans.money import MoneyField


class Posting(models.Model):
    """One append-only ledger line. A wrong line is undone by a reversal pointing at it, never edited."""

    class Kind(models.TextChoices):
        DISBURSEMENT = "disbursement", _("Disbursement")
        PRINCIPAL = "principal", _("Principal repayment")
        INTEREST = "interest", _("Interest")
        OVERDUE_INTEREST = "overdue_interest", _("Overdue interest")
        SAVINGS_IN = "savings_in", _("Savings deposit")
        SAVINGS_OUT = "savings_out", _("Savings withdrawal")
        REVERSAL = "reversal", _("Reversal")

    LOAN_KINDS = (Kind.DISBURSEMENT, Kind.PRINCIPAL, Kind.INTEREST, Kind.OVERDUE_INTEREST)
    SAVINGS_KINDS = (Kind.SAVINGS_IN, Kind.SAVINGS_OUT)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="postings", verbose_name=_("household")
    )
    # No index of its own: the (loan, kind) index serves it.
    loan = models.ForeignKey(
        Loan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postings",
        verbose_name=_("loan"),
        db_index=False,
    )
    amount = MoneyField(_("amount"))
    # The value date: the day the money moved. Balances, interest and past-date reports follow it. A reversal takes
    # its original's value date, so the ledger equals an entry that was right the first time.
    on = models.DateField(_("value date"))
    voucher = models.CharField(_("voucher number"), max_length=50, null=True, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name=_("reverses")
    )
    # Undoing a reversal enters the original again, pointing at the reversal it undoes: a plain posting of the
    # original's kind, so every sum that reads postings stays one level deep.
    restores = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="restored_by",
        verbose_name=_("undoes the reversal"),
    )
    request = models.ForeignKey(
        "loans.ReversalRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="postings",
        verbose_name=_("reversal request"),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="postings"
    )
    # The booking time: when the posting was recorded. An audit follows it.
    created_at = models.DateTimeField(_("booked at"), default=timezone.now)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="posting_amount_positive"),
            models.UniqueConstraint(
                fields=["voucher"], condition=Q(voucher__isnull=False), name="posting_voucher_unique"
            ),
            models.CheckConstraint(
                condition=(Q(kind="reversal") & Q(reverses__isnull=False))
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
                name="posting_reversal_points_at_original",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["savings_in", "savings_out", "reversal"]) | Q(loan__isnull=False),
                name="posting_loan_kind_has_loan",
            ),
            models.CheckConstraint(
                condition=Q(restores__isnull=True) | ~Q(kind="reversal"), name="posting_restore_is_not_a_reversal"
            ),
        ]
        indexes = [
            # With the day and amount, what the day close sums of a loan's repayments is read from the index alone.
            models.Index(fields=["loan", "kind"], include=["on", "amount"], name="posting_loan_kind"),
            models.Index(fields=["on", "kind"]),
            # The day close looks up the reversals booked since the last close (a reversal keeps its original's value
            # date, so only the booking time tells).
            models.Index(fields=["created_at"], name="posting_reversal_booked", condition=Q(kind="reversal")),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.on:%d/%m/%Y}"


class InterestArrearsEntry(models.Model):
    """One change of a loan's interest arrears, dated on the business day it happened (append-only).

    The loan keeps the current figure; the arrears as of an earlier day are that figure less the entries dated after
    it, so a loan whose arrears came before these entries existed keeps them on every earlier day.
    """

    class Source(models.TextChoices):
        COLLECTION = "collection", _("Collection sheet")
        REVERSAL = "reversal", _("Reversal")
        IMPORT = "import", _("Bank import")
        RECONCILIATION = "reconciliation", _("Reconciliation with the bank")

    # No index of its own: the (loan, on) index serves it.
    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="arrears_entries", verbose_name=_("loan"), db_index=False
    )
    on = models.DateField(_("business date"))
    amount = models.DecimalField(_("change"), max_digits=18, decimal_places=0)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(_("entered at"), default=timezone.now)

    class Meta:
        verbose_name = _("interest arrears entry")
        verbose_name_plural = _("interest arrears entries")
        ordering = ["on", "pk"]
        indexes = [models.Index(fields=["loan", "on"]), models.Index(fields=["on"])]

    def __str__(self):
        return f"{self.loan_id} {self.amount:+} {self.on:%d/%m/%Y}"


class ProgramBalanceFigures(models.Model):
    """The figures of a per-program balance row (a group's, or its ward branch's sum of them), from the cached loan
    balances, with the lending and collections of the month and year of `flows_on`."""

    loans = models.PositiveIntegerField(_("number of loans"), default=0)
    households = models.PositiveIntegerField(_("households with outstanding loans"), default=0)
    outstanding = MoneyField(_("outstanding"), default=0)
    overdue = MoneyField(_("overdue"), default=0)
    frozen = MoneyField(_("frozen"), default=0)
    interest_arrears = MoneyField(_("interest arrears"), default=0)
    # Lending and collections in the month and year of `flows_on` (the day of the last refresh): still right on a
    # later day of the same month (or year), because every posting refreshes its group.
    flows_on = models.DateField(_("flows as of"), null=True, blank=True)
    lent_month = MoneyField(_("lent this month"), default=0)
    lent_year = MoneyField(_("lent this year"), default=0)
    collected_month = MoneyField(_("collected this month"), default=0)
    collected_year = MoneyField(_("collected this year"), default=0)

    class Meta:
        abstract = True


class BalanceFigures(models.Model):
    """A group's (or ward branch's) borrowing households and its current members' savings."""

    households = models.PositiveIntegerField(_("households with outstanding loans"), default=0)
    savings = MoneyField(_("savings"), default=0)

    class Meta:
        abstract = True


class GroupProgramBalance(ProgramBalanceFigures):
    """Totals of one group's loans under one program, from the cached loan balances.

    Rewritten by `refresh_loan_balances` for the groups it touches, so dashboards and reports read a few thousand rows
    instead of every loan.
    """

    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.CASCADE, related_name="+", verbose_name=_("group")
    )
    program = models.ForeignKey(LoanProgram, on_delete=models.CASCADE, related_name="+", verbose_name=_("program"))

    class Meta:
        verbose_name = _("group balance by program")
        verbose_name_plural = _("group balances by program")
        constraints = [models.UniqueConstraint(fields=["group", "program"], name="group_program_balance_unique")]

    def __str__(self):
        return f"{self.group_id}/{self.program_id}"


class GroupBalance(BalanceFigures):
    """One group's borrowing households and its current members' savings, from the cached balances."""

    group = models.OneToOneField(
        "organizations.SavingsGroup",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="balance",
        verbose_name=_("group"),
    )

    class Meta:
        verbose_name = _("group balance")
        verbose_name_plural = _("group balances")

    def __str__(self):
        return str(self.group_id)


class BranchProgramBalance(ProgramBalanceFigures):
    """`GroupProgramBalance` summed over the groups of a ward branch (their branch today) with the same program and
    the same `flows_on`, so that province-wide pages read a row per branch. Rewritten with the group rows. Rows are
    kept apart per refresh day: a page counts a row's month (year) flows only if it is the page's month (year)."""

    branch = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("ward branch")
    )
    program = models.ForeignKey(LoanProgram, on_delete=models.CASCADE, related_name="+", verbose_name=_("program"))

    class Meta:
        verbose_name = _("branch balance by program")
        verbose_name_plural = _("branch balances by program")
        indexes = [models.Index(fields=["branch", "program"])]

    def __str__(self):
        return f"{self.branch_id}/{self.program_id}"


class BranchBalance(BalanceFigures):
    """`GroupBalance` summed over the groups of a ward branch (their branch today)."""

    branch = models.OneToOneField(
        "organizations.Organization",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("ward branch"),
    )

    class Meta:
        verbose_name = _("branch balance")
        verbose_name_plural = _("branch balances")

    def __str__(self):
        return str(self.branch_id)


class MonthlyBalance(models.Model):
    """Outstanding and overdue of one ward branch at a month's end, derived from postings, for the 12-month trend."""

    month_end = models.DateField(_("month end"))
    branch = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("ward branch")
    )
    outstanding = MoneyField(_("outstanding"), default=0)
    overdue = MoneyField(_("overdue"), default=0)

    class Meta:
        verbose_name = _("monthly balance")
        verbose_name_plural = _("monthly balances")
        constraints = [models.UniqueConstraint(fields=["month_end", "branch"], name="monthly_balance_unique")]

    def __str__(self):
        return f"{self.branch_id} {self.month_end:%m/%Y}"


class PortfolioFigures(models.Model):
    """The figures of one row of the portfolio under one program (program empty: the row's own totals across
    programs, holding its households with outstanding loans and its members' savings), as the ledger gives them."""

    program = models.ForeignKey(
        LoanProgram,
        on_delete=models.CASCADE,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("program"),
    )
    loans = models.IntegerField(_("number of loans"), default=0)
    households = models.IntegerField(_("households with outstanding loans"), default=0)
    outstanding = models.DecimalField(_("outstanding"), max_digits=18, decimal_places=0, default=0)
    overdue = models.DecimalField(_("overdue"), max_digits=18, decimal_places=0, default=0)
    frozen = models.DecimalField(_("frozen"), max_digits=18, decimal_places=0, default=0)
    interest_arrears = models.DecimalField(_("interest arrears"), max_digits=18, decimal_places=0, default=0)
    savings = models.DecimalField(_("savings"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        abstract = True


class SnapshotFigures(PortfolioFigures):
    """The figures of one group under one program (program empty: the group's own row), as the ledger gives them."""

    # Millions of rows are rewritten set-based from the ledger: no per-row foreign-key checks in the database, and no
    # index of its own (each table's (group, date) index serves it).
    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("group"),
    )

    class Meta:
        abstract = True


class BranchSnapshotFigures(PortfolioFigures):
    """The sum of the snapshot rows of a ward branch's groups (today's branch) under one program."""

    # Like the group rows': no foreign-key checks, and each table's (branch, date) index serves it.
    branch = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("ward branch"),
    )

    class Meta:
        abstract = True


class PortfolioMonthEnd(SnapshotFigures):
    """A group's figures at a month's end, with the lending and collections of that month's year so far.

    Every month end on the table holds every group that has figures, so a past date reads the latest month end
    before it plus the day changes since (`PortfolioDayChange`).
    """

    month_end = models.DateField(_("month end"))
    lent_year = models.DecimalField(_("lent this year"), max_digits=18, decimal_places=0, default=0)
    collected_year = models.DecimalField(_("collected this year"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        verbose_name = _("month-end portfolio snapshot")
        verbose_name_plural = _("month-end portfolio snapshots")
        indexes = [models.Index(fields=["month_end"]), models.Index(fields=["group", "month_end"])]

    def __str__(self):
        return f"{self.group_id}/{self.program_id} {self.month_end:%d/%m/%Y}"


class PortfolioDayChange(SnapshotFigures):
    """How a group's figures changed on one business day (only days with a change), with that day's lending and
    collections. Kept from the first month end on `PortfolioMonthEnd` onwards."""

    on = models.DateField(_("business date"))
    lent = models.DecimalField(_("lent"), max_digits=18, decimal_places=0, default=0)
    collected = models.DecimalField(_("collected"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        verbose_name = _("daily portfolio change")
        verbose_name_plural = _("daily portfolio changes")
        indexes = [models.Index(fields=["on"]), models.Index(fields=["group", "on"])]

    def __str__(self):
        return f"{self.group_id}/{self.program_id} {self.on:%d/%m/%Y}"


class SnapshotCoverage(models.Model):
    """The month ends the snapshots hold (one row): every month end from `first_month_end` to `last_month_end` is
    complete, and day changes are kept for every day after the first. Dates after the first are read from them."""

    first_month_end = models.DateField(_("first month end"))
    last_month_end = models.DateField(_("last month end"))
    rebuilt_at = models.DateTimeField(_("rebuilt at"), default=timezone.now)

    class Meta:
        verbose_name = _("snapshot coverage")
        verbose_name_plural = _("snapshot coverage")

    def __str__(self):
        return f"{self.first_month_end:%d/%m/%Y}–{self.last_month_end:%d/%m/%Y}"


class BranchMonthEnd(BranchSnapshotFigures):
    """`PortfolioMonthEnd` summed over the groups of each ward branch (their branch today), so that province-wide
    pages for a past date read a row per branch instead of one per group. Rewritten with the group rows."""

    month_end = models.DateField(_("month end"))
    lent_year = models.DecimalField(_("lent this year"), max_digits=18, decimal_places=0, default=0)
    collected_year = models.DecimalField(_("collected this year"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        verbose_name = _("month-end branch snapshot")
        verbose_name_plural = _("month-end branch snapshots")
        indexes = [models.Index(fields=["month_end"]), models.Index(fields=["branch", "month_end"])]

    def __str__(self):
        return f"{self.branch_id}/{self.program_id} {self.month_end:%d/%m/%Y}"


class BranchDayChange(BranchSnapshotFigures):
    """`PortfolioDayChange` summed over the groups of each ward branch (their branch today)."""

    on = models.DateField(_("business date"))
    lent = models.DecimalField(_("lent"), max_digits=18, decimal_places=0, default=0)
    collected = models.DecimalField(_("collected"), max_digits=18, decimal_places=0, default=0)

    class Meta:
        verbose_name = _("daily branch change")
        verbose_name_plural = _("daily branch changes")
        indexes = [models.Index(fields=["on"]), models.Index(fields=["branch", "on"])]

    def __str__(self):
        return f"{self.branch_id}/{self.program_id} {self.on:%d/%m/%Y}"
