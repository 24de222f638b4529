"""Commission and entrustment fee rates (FeeSchedule) and their reductions for overdue debt."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


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
