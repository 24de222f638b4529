"""The bank's spreadsheets: import batches, differences with the bank and the bank's group grades."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from borrowers.models import Household
from loans.models.loans import Loan
from loans.money import MoneyField


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
