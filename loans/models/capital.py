"""Entrusted capital: plans, ward allocations, adjustments, allocation history and capital use.

Every movement of capital has two people: one proposes (a ward allocation, a plan total, an adjustment) and another
decides; nothing changes the capital before the decision.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models.programs import LoanProgram
from loans.models.requests import LoanApplication
from loans.money import MoneyField


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


class CapitalDecision(models.Model):
    """What a proposal about capital carries once a second person decides it. The proposer never decides."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Waiting for a decision")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PROPOSED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)

    class Meta:
        abstract = True

    @property
    def is_pending(self):
        return self.status == self.Status.PROPOSED


def _decision_constraints(prefix, proposer):
    """The database refuses a decision by the proposer, and a decided row without a time."""
    return [
        models.CheckConstraint(condition=~Q(decided_by=F(proposer)), name=f"{prefix}_checker_is_not_proposer"),
        models.CheckConstraint(
            condition=Q(status="proposed") | Q(decided_at__isnull=False), name=f"{prefix}_decided_has_time"
        ),
    ]


class CapitalPlanChange(CapitalDecision):
    """A district total proposed for a plan year: applied to the plan (created if new) only when someone else
    approves it. The rows are the plan's history."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="capital_plan_changes",
        verbose_name=_("district organization"),
    )
    program = models.ForeignKey(
        LoanProgram, on_delete=models.PROTECT, related_name="capital_plan_changes", verbose_name=_("program")
    )
    year = models.PositiveSmallIntegerField(_("plan year"))
    plan = models.ForeignKey(
        CapitalPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="changes", verbose_name=_("plan")
    )
    amount_before = MoneyField(_("total before"), null=True, blank=True)
    amount = MoneyField(_("proposed total"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)

    class Meta:
        verbose_name = _("proposed district total")
        verbose_name_plural = _("proposed district totals")
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_change_amount_positive"),
            models.UniqueConstraint(
                fields=["organization", "program", "year"], condition=Q(status="proposed"),
                name="one_pending_change_per_plan",
            ),
            *_decision_constraints("plan_change", "proposed_by"),
        ]

    def __str__(self):
        return f"{self.organization} – {self.program.code} – {self.year}: {self.amount}"


class CapitalAdjustment(CapitalDecision):
    """An approved allocation changes only by adjustments: capital moved out of `source` and/or into `target`.

    With both set, capital moves between wards or programs; with only a target it comes from the plan's unallocated
    capital; with only a source it goes back to it. `actor` proposes it; the allocations change only when someone
    else approves it.
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
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    at = models.DateTimeField(_("proposed at"), default=timezone.now)

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
            *_decision_constraints("adjustment", "actor"),
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
        MERGED_OUT = "merged_out", _("Carried into the new ward's allocation by a ward merger")
        MERGED_IN = "merged_in", _("Formed by a ward merger")

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
