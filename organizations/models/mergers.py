"""Reorganisations of the wards: which wards formed a new one on which date, and where each group was before.

The old wards and branches stay as history (`Ward.merged_into`, `Organization.merged_into`); the groups, households,
officers and capital move to the new ward's branches. A `GroupTransfer` keeps each group's branch before the move, so
that figures as of an earlier date are still shown under the ward the group belonged to on that date.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models.chart import Organization, SavingsGroup, Ward


class WardMerger(models.Model):
    """Wards that formed `ward` from `merged_on`, carried out once by organizations.services.mergers."""

    ward = models.OneToOneField(Ward, on_delete=models.PROTECT, related_name="formed_by", verbose_name=_("new ward"))
    merged_on = models.DateField(_("in force from"))
    decision = models.CharField(_("decision"), max_length=200, blank=True, help_text=_("E.g. 1685/NQ-UBTVQH15."))
    carried_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("carried out by"),
    )
    carried_out_at = models.DateTimeField(_("carried out at"), default=timezone.now)
    summary = models.JSONField(_("what moved"), default=dict, blank=True)

    class Meta:
        verbose_name = _("ward merger")
        verbose_name_plural = _("ward mergers")
        ordering = ["-merged_on", "ward__code"]

    def __str__(self):
        return f"{self.ward} ({self.merged_on:%d/%m/%Y})"


class GroupTransfer(models.Model):
    """A group's move from one ward branch to another on a date: its branch before that date is `from_branch`."""

    group = models.ForeignKey(
        SavingsGroup, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("group")
    )
    from_branch = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("from ward branch")
    )
    to_branch = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", verbose_name=_("to ward branch")
    )
    moved_on = models.DateField(_("moved on"))
    merger = models.ForeignKey(
        WardMerger, on_delete=models.PROTECT, null=True, blank=True, related_name="transfers",
        verbose_name=_("ward merger"),
    )

    class Meta:
        verbose_name = _("group transfer")
        verbose_name_plural = _("group transfers")
        ordering = ["moved_on", "pk"]
        indexes = [models.Index(fields=["group", "moved_on"])]
        constraints = [
            models.CheckConstraint(condition=~models.Q(from_branch=models.F("to_branch")), name="transfer_between_two_branches"),
        ]

    def __str__(self):
        return f"{self.group_id}: {self.from_branch_id} → {self.to_branch_id} ({self.moved_on})"
