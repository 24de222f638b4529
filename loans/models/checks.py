"""Loan-use checks (06/TD) and group inspections (16/TD)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models.loans import Loan


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
