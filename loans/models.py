"""Programs, loan requests and their review, loans with their schedules, and the append-only ledger."""

import calendar
from datetime import date

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.money import MoneyField
from organizations.errors import DomainError

loan_number_validator = RegexValidator(r"^\d{16}$", _("A bank loan number (số khế ước) has exactly 16 digits."))


def add_months(day, months):
    """The same day `months` later, clamped to the month's last day (31/01 + 1 month = 28/02)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_rows(amount, disbursed_on, term_months, frequency):
    """(seq, due date, principal) for a loan: equal whole-đồng instalments, the last absorbing the remainder."""
    amount = int(amount)
    step = frequency or term_months
    count = max(1, -(-term_months // step))
    share = amount // count
    rows = []
    for seq in range(1, count + 1):
        months = min(seq * step, term_months)
        principal = share if seq < count else amount - share * (count - 1)
        rows.append((seq, add_months(disbursed_on, months), principal))
    return rows


class LoanProgram(models.Model):
    """A policy lending program. Rates and ceilings are editable data, seeded from DOMAIN.md's defaults."""

    code = models.CharField(_("program code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=200)
    annual_rate = models.DecimalField(
        _("annual rate (%)"), max_digits=6, decimal_places=3, validators=[MinValueValidator(0)]
    )
    overdue_multiplier = models.DecimalField(
        _("overdue rate multiplier"), max_digits=4, decimal_places=2, default=1.30, validators=[MinValueValidator(1)]
    )
    max_amount = MoneyField(_("maximum amount"), validators=[MinValueValidator(1)])
    max_amount_per_month = models.BooleanField(
        _("maximum is per month of study"),
        default=False,
        help_text=_("For student loans: the maximum applies to each month of the term."),
    )
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), validators=[MinValueValidator(1)])
    eligible_statuses = models.JSONField(
        _("policy statuses it lends to"),
        default=list,
        help_text=_("Policy status codes: poor, near_poor, escaped, other_policy, none."),
    )
    escaped_within_years = models.PositiveSmallIntegerField(
        _("left the poor list at most (years)"),
        null=True,
        blank=True,
        help_text=_("For the newly-escaped program: how long ago the household may have left the list."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("loan program")
        verbose_name_plural = _("loan programs")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(annual_rate__gte=0), name="program_rate_not_negative"),
            models.CheckConstraint(condition=Q(max_amount__gt=0), name="program_max_amount_positive"),
            models.CheckConstraint(condition=Q(overdue_multiplier__gte=1), name="program_overdue_multiplier_min_1"),
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def monthly_rate(self):
        """Percent per month, e.g. 0.55 for 6.6 %/year."""
        return self.annual_rate / 12

    def ceiling_for(self, term_months):
        return self.max_amount * term_months if self.max_amount_per_month else self.max_amount


class ImportBatch(models.Model):
    """One uploaded bank file. Everything an import creates points back at its batch."""

    class Kind(models.TextChoices):
        LOANS = "loans", _("Loan balances")
        TRANSACTIONS = "transactions", _("Transactions")
        GROUPS = "groups", _("Groups")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PREVIEWED = "previewed", _("Previewed")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Refused")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content = models.BinaryField(_("file content"), editable=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.UPLOADED)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Progress of the background job, read by the page that polls it.
    phase = models.CharField(_("step"), max_length=200, blank=True)
    progress_done = models.PositiveIntegerField(_("rows done"), default=0)
    progress_total = models.PositiveIntegerField(_("rows in the file"), default=0)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True, editable=False)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} – {self.file_name}"


class StatusPipeline(models.Model):
    """A status field whose legal moves are listed in TRANSITIONS; every move writes a status-change row."""

    TRANSITIONS: dict = {}

    class Meta:
        abstract = True

    def can_transition_to(self, status):
        return status in self.TRANSITIONS.get(self.status, ())

    def transition_to(self, status, *, actor, note="", on=None):
        if not self.can_transition_to(status):
            raise DomainError(
                _("Cannot move from “%(old)s” to “%(new)s”.")
                % {"old": self.get_status_display(), "new": self.Status(status).label}
            )
        old = self.status
        self.status = status
        self.save(update_fields=["status", "updated_at"])
        return self.status_changes.create(
            from_status=old, to_status=status, actor=actor, note=note, on=on or timezone.localdate()
        )


class StatusChange(models.Model):
    from_status = models.CharField(_("from"), max_length=20)
    to_status = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    on = models.DateField(_("business date"), default=timezone.localdate)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "pk"]


class ReviewMeeting(models.Model):
    """Họp bình xét: the group votes on its pending requests (minutes 10A/TD)."""

    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="review_meetings", verbose_name=_("group")
    )
    held_on = models.DateField(_("meeting date"))
    attendee_count = models.PositiveSmallIntegerField(_("households attending"), default=0)
    attendees = models.TextField(_("who attended"), blank=True)
    neighbourhood_head = models.CharField(_("neighbourhood head present"), max_length=200, blank=True)
    branch_officer = models.CharField(_("ward branch officer present"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("group review meeting")
        verbose_name_plural = _("group review meetings")
        ordering = ["-held_on", "-pk"]

    def __str__(self):
        return f"{self.group} – {self.held_on:%d/%m/%Y}"


class LoanList(models.Model):
    """Danh sách 03/TD: the requests a review meeting approved, certified by the ward and submitted upwards."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Awaiting ward certification")
        CERTIFIED = "certified", _("Certified by the ward")
        SUBMITTED = "submitted", _("Submitted to district")
        DECIDED = "decided", _("Decided by district")

    meeting = models.OneToOneField(
        ReviewMeeting, on_delete=models.PROTECT, related_name="loan_list", verbose_name=_("review meeting")
    )
    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="loan_lists", verbose_name=_("group")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    certified_on = models.DateField(_("certified on"), null=True, blank=True)
    certified_signer = models.CharField(_("signed by"), max_length=200, blank=True)
    certification_ref = models.CharField(_("reference number"), max_length=50, blank=True)
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("loan list (03/TD)")
        verbose_name_plural = _("loan lists (03/TD)")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(certified_on__isnull=False),
                name="loan_list_certified_has_date",
            ),
        ]

    def __str__(self):
        return _("03/TD list of %(group)s, %(date)s") % {"group": self.group, "date": f"{self.meeting.held_on:%d/%m/%Y}"}


class LoanApplication(StatusPipeline):
    """Giấy đề nghị vay vốn 01/TD, and its path from draft to disbursement."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        GROUP_APPROVED = "group_approved", _("Approved by the group")
        GROUP_REJECTED = "group_rejected", _("Rejected by the group")
        CERTIFIED = "certified", _("Certified by the ward")
        SUBMITTED = "submitted", _("Submitted to district")
        APPROVED = "approved", _("Approved by district")
        REJECTED = "rejected", _("Rejected by district")
        DISBURSED = "disbursed", _("Disbursed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    TRANSITIONS = {
        Status.DRAFT: {Status.GROUP_APPROVED, Status.GROUP_REJECTED, Status.WITHDRAWN},
        Status.GROUP_APPROVED: {Status.CERTIFIED, Status.WITHDRAWN},
        Status.CERTIFIED: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.SUBMITTED: {Status.APPROVED, Status.REJECTED, Status.WITHDRAWN},
        Status.APPROVED: {Status.DISBURSED, Status.WITHDRAWN},
    }
    OPEN_STATUSES = (
        Status.DRAFT,
        Status.GROUP_APPROVED,
        Status.CERTIFIED,
        Status.SUBMITTED,
        Status.APPROVED,
    )

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="applications", verbose_name=_("household")
    )
    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.PROTECT, related_name="applications", verbose_name=_("group")
    )
    program = models.ForeignKey(
        LoanProgram, on_delete=models.PROTECT, related_name="applications", verbose_name=_("program")
    )
    amount_requested = MoneyField(_("amount requested"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"), validators=[MinValueValidator(1)])
    purpose = models.CharField(_("purpose"), max_length=300)
    planned_use = models.TextField(_("planned use of the money"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    meeting = models.ForeignKey(
        ReviewMeeting, on_delete=models.PROTECT, null=True, blank=True, related_name="applications"
    )
    loan_list = models.ForeignKey(LoanList, on_delete=models.PROTECT, null=True, blank=True, related_name="applications")
    amount_group_approved = MoneyField(_("amount approved by the group"), null=True, blank=True)
    amount_approved = MoneyField(_("amount approved by district"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan request")
        verbose_name_plural = _("loan requests")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_requested__gt=0), name="application_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_group_approved__isnull=True)
                | Q(amount_group_approved__gt=0, amount_group_approved__lte=F("amount_requested")),
                name="application_group_amount_within_request",
            ),
            models.CheckConstraint(
                condition=Q(amount_approved__isnull=True)
                | Q(amount_approved__gt=0, amount_approved__lte=F("amount_requested")),
                name="application_approved_amount_within_request",
            ),
        ]
        indexes = [models.Index(fields=["status", "group"])]

    def __str__(self):
        return f"{self.household} – {self.program.code} – {self.amount_requested}"


class ApplicationStatusChange(StatusChange):
    application = models.ForeignKey(LoanApplication, on_delete=models.CASCADE, related_name="status_changes")

    class Meta(StatusChange.Meta):
        verbose_name = _("request status change")
        verbose_name_plural = _("request status changes")

    def __str__(self):
        return f"{self.application_id}: {self.from_status} → {self.to_status}"


class Loan(StatusPipeline):
    """Khế ước: one disbursed loan of one household under one program."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        WRITTEN_OFF = "written_off", _("Written off")
        CLOSED = "closed", _("Closed")

    class Frequency(models.IntegerChoices):
        MONTHLY = 1, _("Monthly")
        QUARTERLY = 3, _("Quarterly")
        HALF_YEARLY = 6, _("Half-yearly")
        YEARLY = 12, _("Yearly")
        AT_MATURITY = 0, _("All at maturity")

    TRANSITIONS = {
        Status.ACTIVE: {Status.FROZEN, Status.WRITTEN_OFF, Status.CLOSED},
        Status.FROZEN: {Status.ACTIVE, Status.WRITTEN_OFF},
    }

    number = models.CharField(_("loan number"), max_length=16, unique=True, validators=[loan_number_validator])
    # household and group: no index of their own, the (household, status) and (group, status) indexes serve them.
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="loans", verbose_name=_("household"), db_index=False
    )
    program = models.ForeignKey(LoanProgram, on_delete=models.PROTECT, related_name="loans", verbose_name=_("program"))
    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.PROTECT,
        db_index=False,
        related_name="loans",
        verbose_name=_("group at disbursement"),
    )
    application = models.OneToOneField(
        LoanApplication, on_delete=models.PROTECT, null=True, blank=True, related_name="loan"
    )
    amount = MoneyField(_("amount disbursed"))
    disbursed_on = models.DateField(_("disbursement date"))
    maturity_on = models.DateField(_("maturity date"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"), validators=[MinValueValidator(1)])
    frequency = models.PositiveSmallIntegerField(
        _("repayment frequency"), choices=Frequency.choices, default=Frequency.QUARTERLY
    )
    annual_rate = models.DecimalField(_("annual rate (%)"), max_digits=6, decimal_places=3)
    overdue_multiplier = models.DecimalField(_("overdue rate multiplier"), max_digits=4, decimal_places=2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Cached from postings and the schedule; `check_ledger` verifies both.
    principal_outstanding = MoneyField(_("outstanding"), default=0)
    overdue_principal = MoneyField(_("overdue"), default=0)
    # Interest due but not collected (lãi tồn), carried by the collection sheets.
    interest_arrears = MoneyField(_("interest arrears"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="loans"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-disbursed_on", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{16}$"), name="loan_number_16_digits"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loan_amount_positive"),
            models.CheckConstraint(condition=Q(maturity_on__gt=F("disbursed_on")), name="loan_matures_after_disbursement"),
            models.CheckConstraint(
                condition=Q(principal_outstanding__gte=0, principal_outstanding__lte=F("amount")),
                name="loan_outstanding_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(overdue_principal__gte=0, overdue_principal__lte=F("principal_outstanding")),
                name="loan_overdue_within_outstanding",
            ),
            models.CheckConstraint(condition=Q(interest_arrears__gte=0), name="loan_interest_arrears_not_negative"),
        ]
        indexes = [models.Index(fields=["group", "status"]), models.Index(fields=["household", "status"])]

    def __str__(self):
        return self.number

    @property
    def monthly_rate(self):
        return self.annual_rate / 12

    def build_schedule(self):
        """Equal principal instalments in whole đồng; the last one absorbs the rounding."""
        return [
            RepaymentInstalment(loan=self, seq=seq, due_on=due_on, principal=principal)
            for seq, due_on, principal in schedule_rows(self.amount, self.disbursed_on, self.term_months, self.frequency)
        ]

    @property
    def overdue_rate_monthly(self):
        return self.monthly_rate * self.overdue_multiplier


class LoanStatusChange(StatusChange):
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="status_changes")

    class Meta(StatusChange.Meta):
        verbose_name = _("loan status change")
        verbose_name_plural = _("loan status changes")

    def __str__(self):
        return f"{self.loan_id}: {self.from_status} → {self.to_status}"


class RepaymentInstalment(models.Model):
    """One principal instalment of a loan's schedule. close_day stamps `overdue_since` when it is missed."""

    # No index of its own: the unique (loan, seq) constraint's index serves it.
    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="instalments", verbose_name=_("loan"), db_index=False
    )
    seq = models.PositiveSmallIntegerField(_("instalment"))
    due_on = models.DateField(_("due date"))
    principal = MoneyField(_("principal due"))
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)

    class Meta:
        verbose_name = _("repayment instalment")
        verbose_name_plural = _("repayment instalments")
        ordering = ["loan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="instalment_seq_unique_per_loan"),
            models.CheckConstraint(condition=Q(principal__gt=0), name="instalment_principal_positive"),
        ]
        indexes = [models.Index(fields=["due_on", "overdue_since"])]

    def __str__(self):
        return f"{self.loan_id} #{self.seq} {self.due_on:%d/%m/%Y}"


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
    on = models.DateField(_("business date"))
    voucher = models.CharField(_("voucher number"), max_length=50, null=True, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name=_("reverses")
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
    created_at = models.DateTimeField(_("entered at"), default=timezone.now)

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
        ]
        indexes = [models.Index(fields=["loan", "kind"]), models.Index(fields=["on", "kind"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.on:%d/%m/%Y}"


class CapitalPlan(models.Model):
    """Kế hoạch vốn ủy thác: what the bank entrusts to one district organization for one program and plan year."""

    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="capital_plans",
        limit_choices_to={"level": "district"},
        verbose_name=_("district organization"),
    )
    program = models.ForeignKey(
        LoanProgram, on_delete=models.PROTECT, related_name="capital_plans", verbose_name=_("program")
    )
    year = models.PositiveSmallIntegerField(_("plan year"))
    amount = MoneyField(_("district total"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("entered by"),
    )
    created_at = models.DateTimeField(_("entered at"), default=timezone.now)

    class Meta:
        verbose_name = _("capital plan")
        verbose_name_plural = _("capital plans")
        ordering = ["-year", "organization", "program__code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "program", "year"], name="one_capital_plan_per_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="capital_plan_amount_positive"),
        ]

    def __str__(self):
        return f"{self.organization} – {self.program.code} – {self.year}"


class CapitalAllocation(models.Model):
    """One ward branch's share of a capital plan: proposed by the branch, decided by district staff.

    `amount` is the decided amount plus adjustments; `amount_committed` is what approved requests hold (the disbursed
    amount once paid out). Both are changed only by the services, under a row lock.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    plan = models.ForeignKey(CapitalPlan, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("plan"))
    branch = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="capital_allocations",
        limit_choices_to={"level": "ward"},
        verbose_name=_("ward branch"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PROPOSED)
    amount_proposed = MoneyField(_("amount proposed"))
    proposal_note = models.TextField(_("grounds for the proposal"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("proposed by"),
    )
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    amount = MoneyField(_("allocated"), default=0)
    amount_committed = MoneyField(_("approved for requests"), default=0)
    amount_disbursed = MoneyField(_("disbursed"), default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)

    class Meta:
        verbose_name = _("capital allocation")
        verbose_name_plural = _("capital allocations")
        ordering = ["plan", "branch__ward__code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "branch"], name="one_allocation_per_branch_and_plan"),
            models.CheckConstraint(condition=Q(amount_proposed__gt=0), name="allocation_proposal_positive"),
            models.CheckConstraint(
                condition=Q(amount_committed__gte=0, amount_committed__lte=F("amount")),
                name="allocation_committed_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(amount_disbursed__gte=0, amount_disbursed__lte=F("amount_committed")),
                name="allocation_disbursed_within_committed",
            ),
            models.CheckConstraint(
                condition=Q(status="approved") | Q(amount=0), name="allocation_only_approved_has_amount"
            ),
        ]

    def __str__(self):
        return f"{self.branch} – {self.plan.program.code} – {self.plan.year}"

    @property
    def remaining(self):
        return self.amount - self.amount_committed


class CapitalAdjustment(models.Model):
    """An approved allocation changes only by adjustments: capital moved out of `source` and/or into `target`.

    With both set, capital moves between wards or programs; with only a target it comes from the plan's unallocated
    capital; with only a source it goes back to it.
    """

    source = models.ForeignKey(
        CapitalAllocation, on_delete=models.PROTECT, null=True, blank=True, related_name="adjustments_out",
        verbose_name=_("from"),
    )
    target = models.ForeignKey(
        CapitalAllocation, on_delete=models.PROTECT, null=True, blank=True, related_name="adjustments_in",
        verbose_name=_("to"),
    )
    amount = MoneyField(_("amount"))
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("capital adjustment")
        verbose_name_plural = _("capital adjustments")
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(
                condition=Q(source__isnull=False) | Q(target__isnull=False), name="adjustment_has_a_side"
            ),
            models.CheckConstraint(condition=~Q(source=F("target")), name="adjustment_between_two_allocations"),
        ]

    def __str__(self):
        return f"{self.source or '—'} → {self.target or '—'}: {self.amount}"


class AllocationEvent(models.Model):
    """The history of an allocation: who proposed, decided or adjusted it, when and why."""

    class Kind(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        CUT = "cut", _("Approved with a cut")
        REJECTED = "rejected", _("Rejected")
        ADJUSTED_IN = "adjusted_in", _("Capital added")
        ADJUSTED_OUT = "adjusted_out", _("Capital moved out")
        RELEASED = "released", _("Returned by a withdrawn request")

    allocation = models.ForeignKey(CapitalAllocation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    amount = MoneyField(_("amount"), default=0)
    adjustment = models.ForeignKey(
        CapitalAdjustment, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    note = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("allocation history entry")
        verbose_name_plural = _("allocation history")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class CapitalUse(models.Model):
    """Which allocation a district approval charged, for how much, and what was finally disbursed."""

    application = models.OneToOneField(
        LoanApplication, on_delete=models.PROTECT, related_name="capital_use", verbose_name=_("loan request")
    )
    allocation = models.ForeignKey(
        CapitalAllocation, on_delete=models.PROTECT, related_name="uses", verbose_name=_("allocation")
    )
    amount_approved = MoneyField(_("amount approved"))
    amount_disbursed = MoneyField(_("amount disbursed"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    approved_at = models.DateTimeField(_("approved at"), default=timezone.now)

    class Meta:
        verbose_name = _("use of allocated capital")
        verbose_name_plural = _("uses of allocated capital")
        constraints = [
            models.CheckConstraint(condition=Q(amount_approved__gt=0), name="capital_use_positive"),
            models.CheckConstraint(
                condition=Q(amount_disbursed__isnull=True)
                | Q(amount_disbursed__gt=0, amount_disbursed__lte=F("amount_approved")),
                name="capital_use_disbursed_within_approved",
            ),
        ]

    def __str__(self):
        return f"{self.application_id}: {self.amount_approved}"


class CollectionSheet(models.Model):
    """Danh sách thu lãi, thu tiết kiệm 13/TD: one group's collection day, filled as a draft and posted once."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        POSTED = "posted", _("Posted")

    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.PROTECT,
        related_name="collection_sheets",
        verbose_name=_("group"),
    )
    collection_on = models.DateField(_("collection day"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("prepared by")
    )
    created_at = models.DateTimeField(_("prepared at"), default=timezone.now)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("posted by"),
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("collection sheet (13/TD)")
        verbose_name_plural = _("collection sheets (13/TD)")
        ordering = ["-collection_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["group", "collection_on"], name="collection_sheet_one_per_group_day"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(posted_at__isnull=False), name="collection_sheet_posted_has_time"
            ),
        ]

    def __str__(self):
        return _("13/TD of %(group)s, %(date)s") % {"group": self.group, "date": f"{self.collection_on:%d/%m/%Y}"}

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT


class CollectionLine(models.Model):
    """One household's row of a collection sheet: what it owed, what the officer collected, how it was applied."""

    class Status(models.TextChoices):
        OPEN = "open", _("Not posted")
        POSTED = "posted", _("Posted")
        REVERSED = "reversed", _("Reversed")

    sheet = models.ForeignKey(CollectionSheet, on_delete=models.CASCADE, related_name="lines", verbose_name=_("sheet"))
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="collection_lines", verbose_name=_("household")
    )
    position = models.PositiveSmallIntegerField(_("row"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    # Due, summed over the household's loans (the loans' own figures are on CollectionItem).
    overdue_interest_due = MoneyField(_("overdue interest due"), default=0)
    current_interest_due = MoneyField(_("current interest due"), default=0)
    principal_due = MoneyField(_("principal due"), default=0)
    savings_before = MoneyField(_("savings before"), default=0)
    # Entered by the officer.
    amount_paid = MoneyField(_("paid towards loans"), default=0)
    savings_in = MoneyField(_("savings deposit"), default=0)
    savings_out = MoneyField(_("savings withdrawal"), default=0)
    # Applied when posted.
    overdue_interest_paid = MoneyField(_("overdue interest collected"), default=0)
    current_interest_paid = MoneyField(_("current interest collected"), default=0)
    principal_paid = MoneyField(_("principal collected"), default=0)
    postings = models.ManyToManyField(Posting, blank=True, related_name="collection_lines", verbose_name=_("postings"))
    reversal_reason = models.CharField(_("reason for reversal"), max_length=300, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("collection sheet line")
        verbose_name_plural = _("collection sheet lines")
        ordering = ["sheet", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["sheet", "household"], name="collection_line_one_per_household"),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0, savings_in__gte=0, savings_out__gte=0),
                name="collection_line_amounts_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.sheet} – {self.household}"

    @property
    def interest_due(self):
        return self.overdue_interest_due + self.current_interest_due

    @property
    def total_due(self):
        return self.interest_due + self.principal_due

    @property
    def interest_paid(self):
        return self.overdue_interest_paid + self.current_interest_paid

    @property
    def savings_after(self):
        return self.savings_before + self.savings_in - self.savings_out

    @property
    def outstanding(self):
        return sum((item.outstanding for item in self.items.all()), 0)

    @property
    def outstanding_after(self):
        return self.outstanding - self.principal_paid


class CollectionItem(models.Model):
    """One loan's part of a sheet line: its interest period, what was due and what the payment covered."""

    line = models.ForeignKey(CollectionLine, on_delete=models.CASCADE, related_name="items", verbose_name=_("line"))
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collection_items", verbose_name=_("loan"))
    period_start = models.DateField(_("interest from"))
    days = models.PositiveSmallIntegerField(_("days"), default=0)
    outstanding = MoneyField(_("outstanding"), default=0)
    overdue_principal = MoneyField(_("overdue principal"), default=0)
    arrears_before = MoneyField(_("interest arrears brought forward"), default=0)
    overdue_interest_accrued = MoneyField(_("interest on overdue principal"), default=0)
    current_interest_due = MoneyField(_("current interest due"), default=0)
    principal_due = MoneyField(_("principal due"), default=0)
    overdue_interest_paid = MoneyField(_("overdue interest collected"), default=0)
    current_interest_paid = MoneyField(_("current interest collected"), default=0)
    principal_paid = MoneyField(_("principal collected"), default=0)

    class Meta:
        verbose_name = _("collection sheet loan")
        verbose_name_plural = _("collection sheet loans")
        ordering = ["line", "loan__disbursed_on", "loan__number"]
        constraints = [
            models.UniqueConstraint(fields=["line", "loan"], name="collection_item_one_per_loan"),
        ]

    def __str__(self):
        return f"{self.line} – {self.loan}"

    @property
    def overdue_interest_due(self):
        return self.arrears_before + self.overdue_interest_accrued


# --- Changes to a loan (08/TD term adjustment, extension, freeze, write-off) --------------------------------------


class LoanChange(models.Model):
    """A change to a loan's terms: requested by the ward branch, approved or rejected by district staff."""

    class Kind(models.TextChoices):
        TERM_ADJUSTMENT = "term_adjustment", _("Term adjustment (08/TD)")
        EXTENSION = "extension", _("Extension")
        FREEZE = "freeze", _("Freeze")
        WRITE_OFF = "write_off", _("Write-off")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        ENDED = "ended", _("Freeze ended")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="changes", verbose_name=_("loan"))
    kind = models.CharField(_("change"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    reason = models.TextField(_("reason"))
    requested_on = models.DateField(_("requested on"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    # Term adjustment: which instalment moves, and to when.
    instalment = models.ForeignKey(
        RepaymentInstalment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("instalment"),
    )
    old_due_on = models.DateField(_("old due date"), null=True, blank=True)
    new_due_on = models.DateField(_("new due date"), null=True, blank=True)
    # Extension and freeze: how many months.
    months = models.PositiveSmallIntegerField(_("months"), null=True, blank=True)
    old_maturity_on = models.DateField(_("old maturity date"), null=True, blank=True)
    new_maturity_on = models.DateField(_("new maturity date"), null=True, blank=True)
    frozen_from = models.DateField(_("frozen from"), null=True, blank=True)
    frozen_until = models.DateField(_("frozen until"), null=True, blank=True)
    ended_on = models.DateField(_("freeze ended on"), null=True, blank=True)
    # Write-off: what was written off, recorded here (the ledger keeps the principal as it stood).
    principal_written_off = MoneyField(_("principal written off"), null=True, blank=True)
    interest_written_off = MoneyField(_("interest written off"), null=True, blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("loan change")
        verbose_name_plural = _("loan changes")
        ordering = ["-requested_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status="requested"), name="one_pending_change_per_loan"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="loan_change_maker_is_not_checker",
            ),
            models.CheckConstraint(
                condition=~Q(kind="term_adjustment") | Q(instalment__isnull=False, new_due_on__isnull=False),
                name="term_adjustment_has_instalment_and_date",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["extension", "freeze"]) | Q(months__gt=0),
                name="extension_and_freeze_have_months",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} – {self.loan_id} – {self.requested_on:%d/%m/%Y}"

    @property
    def is_pending(self):
        return self.status == self.Status.REQUESTED


# --- Commission and entrustment fees ----------------------------------------------------------------------------


class FeeSchedule(models.Model):
    """Rates for one period: the group leader's commission and each organization level's entrustment fee.

    No public source gives the current rates (DOMAIN.md), so admins keep them here per period.
    """

    name = models.CharField(_("name"), max_length=200)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: still in force."))
    is_example = models.BooleanField(
        _("example values"), default=False, help_text=_("Seeded example values, not official rates.")
    )
    commission_rate = models.DecimalField(
        _("group leader commission on interest collected (%)"), max_digits=7, decimal_places=4, default=0,
        validators=[MinValueValidator(0)],
    )
    branch_outstanding_rate = models.DecimalField(
        _("ward branch fee on outstanding, per month (%)"), max_digits=7, decimal_places=4, default=0,
        validators=[MinValueValidator(0)],
    )
    branch_interest_rate = models.DecimalField(
        _("ward branch fee on interest collected (%)"), max_digits=7, decimal_places=4, default=0,
        validators=[MinValueValidator(0)],
    )
    district_outstanding_rate = models.DecimalField(
        _("district fee on outstanding, per month (%)"), max_digits=7, decimal_places=4, default=0,
        validators=[MinValueValidator(0)],
    )
    district_interest_rate = models.DecimalField(
        _("district fee on interest collected (%)"), max_digits=7, decimal_places=4, default=0,
        validators=[MinValueValidator(0)],
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("fee and commission rates")
        verbose_name_plural = _("fee and commission rates")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="fee_schedule_period_ordered",
            ),
            models.CheckConstraint(
                condition=Q(commission_rate__gte=0, branch_outstanding_rate__gte=0, branch_interest_rate__gte=0,
                            district_outstanding_rate__gte=0, district_interest_rate__gte=0),
                name="fee_schedule_rates_not_negative",
            ),
        ]

    def __str__(self):
        return self.name

    def reduction_for(self, overdue_ratio):
        """The largest reduction (%) whose threshold the overdue ratio (%) passes; 0 when none does."""
        best = 0
        for reduction in self.reductions.all():
            if overdue_ratio > reduction.overdue_ratio_above and reduction.reduction_percent > best:
                best = reduction.reduction_percent
        return best


class FeeReduction(models.Model):
    """Above this overdue ratio, a unit's fee (and a group leader's commission) is cut by this share."""

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="reductions")
    overdue_ratio_above = models.DecimalField(
        _("overdue ratio above (%)"), max_digits=6, decimal_places=2, validators=[MinValueValidator(0)]
    )
    reduction_percent = models.DecimalField(
        _("reduction of the amount (%)"), max_digits=5, decimal_places=2,
        validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("reduction for overdue debt")
        verbose_name_plural = _("reductions for overdue debt")
        ordering = ["overdue_ratio_above"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reduction_percent__gte=0, reduction_percent__lte=100), name="fee_reduction_within_100"
            ),
            models.UniqueConstraint(fields=["schedule", "overdue_ratio_above"], name="fee_reduction_threshold_unique"),
        ]

    def __str__(self):
        return f"> {self.overdue_ratio_above} %: −{self.reduction_percent} %"


# --- Loan-use checks (06/TD) and group inspections (16/TD) -----------------------------------------------------


class LoanUseCheck(models.Model):
    """Phiếu kiểm tra sử dụng vốn vay 06/TD: did the household use the money as planned?"""

    class Result(models.TextChoices):
        AS_PLANNED = "as_planned", _("Used as planned")
        PARTLY = "partly", _("Partly used as planned")
        NOT_USED = "not_used", _("Not used as planned")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="use_checks", verbose_name=_("loan"))
    checked_on = models.DateField(_("checked on"))
    result = models.CharField(_("result"), max_length=20, choices=Result.choices)
    notes = models.TextField(_("notes"), blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("checked by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("loan-use check (06/TD)")
        verbose_name_plural = _("loan-use checks (06/TD)")
        ordering = ["-checked_on", "-pk"]
        indexes = [models.Index(fields=["loan", "checked_on"])]

    def __str__(self):
        return f"{self.loan_id} – {self.checked_on:%d/%m/%Y} – {self.get_result_display()}"


class GroupInspection(models.Model):
    """Biên bản kiểm tra tổ 16/TD: the yearly inspection of a savings group by its ward branch."""

    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.PROTECT,
        related_name="loan_use_inspections",
        verbose_name=_("group"),
    )
    inspected_on = models.DateField(_("inspected on"))
    findings = models.TextField(_("findings"), blank=True)
    inspected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("inspected by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("group inspection (16/TD)")
        verbose_name_plural = _("group inspections (16/TD)")
        ordering = ["-inspected_on", "-pk"]
        indexes = [models.Index(fields=["group", "inspected_on"])]

    def __str__(self):
        return f"{self.group} – {self.inspected_on:%d/%m/%Y}"


class ReconciliationItem(models.Model):
    """One figure where the bank's loan-balance file and the ledger disagree, until an admin accepts the bank's."""

    class Figure(models.TextChoices):
        OUTSTANDING = "outstanding", _("Outstanding")
        OVERDUE = "overdue", _("Overdue")
        FROZEN = "frozen", _("Frozen")
        INTEREST_ARREARS = "interest_arrears", _("Interest arrears")
        SAVINGS = "savings", _("Savings balance")

    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="differences", verbose_name=_("import")
    )
    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("loan")
    )
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="+", verbose_name=_("household"))
    figure = models.CharField(_("figure"), max_length=20, choices=Figure.choices)
    ledger_value = MoneyField(_("in the ledger"))
    bank_value = MoneyField(_("at the bank"))
    row_number = models.PositiveIntegerField(_("row"), default=0)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("difference with the bank")
        verbose_name_plural = _("differences with the bank")
        ordering = ["batch", "row_number", "pk"]
        permissions = [("import_bank_files", _("Can import and reconcile the bank's spreadsheets"))]

    def __str__(self):
        return f"{self.get_figure_display()}: {self.ledger_value} / {self.bank_value}"

    @property
    def difference(self):
        return self.bank_value - self.ledger_value


class BankGroupGrade(models.Model):
    """A group's score and grade as the bank's group list states them."""

    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.CASCADE, related_name="bank_grades", verbose_name=_("group")
    )
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, related_name="group_grades", verbose_name=_("import")
    )
    on = models.DateField(_("as of"))
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=20, blank=True)
    members = models.PositiveSmallIntegerField(_("members"), null=True, blank=True)
    leader_name = models.CharField(_("leader"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("group grade from the bank")
        verbose_name_plural = _("group grades from the bank")
        ordering = ["-on", "group"]

    def __str__(self):
        return f"{self.group_id} {self.score} {self.grade}"


class GroupProgramBalance(models.Model):
    """Totals of one group's loans under one program, from the cached loan balances.

    Rewritten by `refresh_loan_balances` for the groups it touches, so dashboards and reports read a few thousand rows
    instead of every loan.
    """

    group = models.ForeignKey(
        "organizations.SavingsGroup", on_delete=models.CASCADE, related_name="+", verbose_name=_("group")
    )
    program = models.ForeignKey(LoanProgram, on_delete=models.CASCADE, related_name="+", verbose_name=_("program"))
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
        verbose_name = _("group balance by program")
        verbose_name_plural = _("group balances by program")
        constraints = [models.UniqueConstraint(fields=["group", "program"], name="group_program_balance_unique")]

    def __str__(self):
        return f"{self.group_id}/{self.program_id}"


class GroupBalance(models.Model):
    """One group's borrowing households and its current members' savings, from the cached balances."""

    group = models.OneToOneField(
        "organizations.SavingsGroup",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="balance",
        verbose_name=_("group"),
    )
    households = models.PositiveIntegerField(_("households with outstanding loans"), default=0)
    savings = MoneyField(_("savings"), default=0)

    class Meta:
        verbose_name = _("group balance")
        verbose_name_plural = _("group balances")

    def __str__(self):
        return str(self.group_id)


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

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="arrears_entries", verbose_name=_("loan"))
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


class SnapshotFigures(models.Model):
    """The figures of one group under one program (program empty: the group's own row, holding its households with
    outstanding loans across programs and its members' savings), as the ledger gives them."""

    # Millions of rows are rewritten set-based from the ledger: no per-row foreign-key checks in the database.
    group = models.ForeignKey(
        "organizations.SavingsGroup",
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
        verbose_name=_("group"),
    )
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
