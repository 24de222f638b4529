"""The 13/TD collection sheet: sheets, household lines and the loans on each line."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.models.ledger import Posting
from loans.models.loans import Loan
from loans.money import MoneyField


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
        PARTLY_REVERSED = "partly_reversed", _("Partly reversed")
        REVERSED = "reversed", _("Reversed")

    sheet = models.ForeignKey(CollectionSheet, on_delete=models.CASCADE, related_name="lines", verbose_name=_("sheet"))
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="collection_lines", verbose_name=_("household")
    )
    position = models.PositiveSmallIntegerField(_("row"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    # A correction: the right amounts for a reversed row, on the same sheet and day, with the same dues.
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="correction",
        verbose_name=_("corrects row"),
    )
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
    # The draft row as the officer left it. No entry time: nothing was entered yet, not even "paid nothing"; posting
    # asks before it takes such a row as paying nothing. The version rises with every saved change, so that two
    # officers on one sheet never overwrite each other's amounts without seeing both.
    entered_at = models.DateTimeField(_("entered at"), null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("entered by"),
    )
    version = models.PositiveIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("collection sheet line")
        verbose_name_plural = _("collection sheet lines")
        ordering = ["sheet", "position", "pk"]
        constraints = [
            # One row per household, plus the corrections that each replace a reversed row.
            models.UniqueConstraint(
                fields=["sheet", "household"], condition=Q(corrects__isnull=True),
                name="collection_line_one_per_household",
            ),
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
    def is_entered(self):
        return self.entered_at is not None

    @property
    def paid_nothing(self):
        """Entered as "không nộp": the officer said this household paid nothing."""
        return self.is_entered and not (self.amount_paid or self.savings_in or self.savings_out)

    @property
    def is_reversed(self):
        return self.status in (self.Status.REVERSED, self.Status.PARTLY_REVERSED)

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
