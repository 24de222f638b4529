"""Supervision work: what the Front and the organizations record of their own work (inspections with 16/TD
findings, training classes, outreach, cooperation agreements, economic models, awards)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models.chart import Organization, SavingsGroup


class ChecklistItem(models.Model):
    """One point of the 16/TD group inspection checklist. Kept as data so the district can follow the bank's changes."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("checklist item"), max_length=300)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("16/TD checklist item")
        verbose_name_plural = _("16/TD checklist items")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.label


class Inspection(models.Model):
    """Kiểm tra, giám sát: one visit to a ward branch or a savings group, with its findings and follow-up."""

    class FollowUp(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    inspected_on = models.DateField(_("inspection date"))
    lead_unit = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="inspections_led", verbose_name=_("leading unit")
    )
    team_members = models.CharField(
        _("inspecting team"), max_length=500, help_text=_("Names and positions of the team members.")
    )
    inspected_branch = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        limit_choices_to={"level": Organization.Level.WARD},
        verbose_name=_("inspected ward branch"),
    )
    inspected_group = models.ForeignKey(
        SavingsGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        verbose_name=_("inspected group"),
    )
    recommendations = models.TextField(_("recommendations"), blank=True)
    follow_up_status = models.CharField(
        _("follow-up"), max_length=12, choices=FollowUp.choices, default=FollowUp.OPEN
    )
    follow_up_deadline = models.DateField(_("follow-up deadline"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-inspected_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(inspected_branch__isnull=False, inspected_group__isnull=True)
                | Q(inspected_branch__isnull=True, inspected_group__isnull=False),
                name="inspection_of_exactly_one_unit",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_deadline__isnull=True) | Q(follow_up_deadline__gte=models.F("inspected_on")),
                name="inspection_deadline_after_visit",
            ),
        ]
        indexes = [
            models.Index(fields=["inspected_on"]),
            models.Index(fields=["follow_up_status", "follow_up_deadline"]),
        ]

    def __str__(self):
        return f"{self.inspected_on:%d/%m/%Y} – {self.inspected_unit}"

    @property
    def inspected_unit(self):
        return self.inspected_group if self.inspected_group_id else self.inspected_branch

    @property
    def inspected_branch_of_unit(self):
        """The ward branch that answers for the inspected unit."""
        return self.inspected_group.branch if self.inspected_group_id else self.inspected_branch

    def is_overdue(self, today=None):
        today = today or timezone.localdate()
        return (
            self.follow_up_status != self.FollowUp.DONE
            and self.follow_up_deadline is not None
            and self.follow_up_deadline < today
        )


class InspectionFinding(models.Model):
    class Result(models.TextChoices):
        OK = "ok", _("Satisfactory")
        NOT_OK = "not_ok", _("Not satisfactory")

    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="findings", verbose_name=_("inspection")
    )
    item = models.ForeignKey(
        ChecklistItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("checklist item")
    )
    result = models.CharField(_("result"), max_length=8, choices=Result.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("inspection finding")
        verbose_name_plural = _("inspection findings")
        ordering = ["item__position", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "item"], name="one_finding_per_checklist_item"),
            models.CheckConstraint(condition=Q(result="ok") | ~Q(note=""), name="unsatisfactory_finding_has_note"),
        ]

    def __str__(self):
        return f"{self.item}: {self.get_result_display()}"


class TrainingClass(models.Model):
    """Lớp tập huấn: a class run by an organization unit, with how many came."""

    held_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=300)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="training_classes", verbose_name=_("organization unit")
    )
    participants = models.PositiveIntegerField(_("participants"), help_text=_("People who took part."))
    attendances = models.PositiveIntegerField(
        _("attendances"), help_text=_("Person-sessions over all days of the class (at least the participants).")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("training class")
        verbose_name_plural = _("training classes")
        ordering = ["-held_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(participants__gt=0), name="training_has_participants"),
            models.CheckConstraint(
                condition=Q(attendances__gte=models.F("participants")), name="training_attendances_cover_participants"
            ),
        ]
        indexes = [models.Index(fields=["held_on"])]

    def __str__(self):
        return f"{self.held_on:%d/%m/%Y} – {self.topic}"


class OutreachSession(models.Model):
    """Buổi truyền thông: e.g. a Youth Union session on the bank's policy loans."""

    held_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=300)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="outreach_sessions", verbose_name=_("organization unit")
    )
    place = models.CharField(_("place"), max_length=200, blank=True)
    audience = models.PositiveIntegerField(_("audience"), help_text=_("People reached."))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("outreach session")
        verbose_name_plural = _("outreach sessions")
        ordering = ["-held_on", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(audience__gt=0), name="outreach_has_audience")]
        indexes = [models.Index(fields=["held_on"])]

    def __str__(self):
        return f"{self.held_on:%d/%m/%Y} – {self.topic}"


class CooperationAgreement(models.Model):
    """Văn bản thỏa thuận / hợp đồng ủy thác between the bank and one ward branch. One is in force per branch."""

    branch = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="agreements",
        limit_choices_to={"level": Organization.Level.WARD},
        verbose_name=_("ward branch"),
    )
    reference = models.CharField(_("reference"), max_length=60)
    signed_on = models.DateField(_("signed on"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Empty: until terminated."))
    terminated_on = models.DateField(_("terminated on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cooperation agreement")
        verbose_name_plural = _("cooperation agreements")
        ordering = ["branch__ward__code", "branch__kind", "-signed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["branch"], condition=Q(terminated_on__isnull=True), name="one_active_agreement_per_branch"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("signed_on")),
                name="agreement_valid_after_signing",
            ),
            models.CheckConstraint(
                condition=Q(terminated_on__isnull=True) | Q(terminated_on__gte=models.F("signed_on")),
                name="agreement_terminated_after_signing",
            ),
        ]

    def __str__(self):
        return f"{self.reference} – {self.branch}"

    @property
    def is_active(self):
        return self.terminated_on is None


class EconomicModel(models.Model):
    """Mô hình kinh tế: a livelihood model an organization builds with borrower households."""

    name = models.CharField(_("name"), max_length=200)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="economic_models", verbose_name=_("organization unit")
    )
    description = models.TextField(_("description"), blank=True)
    started_on = models.DateField(_("started on"))
    households = models.ManyToManyField(
        "borrowers.Household", blank=True, related_name="economic_models", verbose_name=_("households involved")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("economic model")
        verbose_name_plural = _("economic models")
        ordering = ["-started_on", "name"]

    def __str__(self):
        return self.name


class Award(models.Model):
    """Khen thưởng: recognition of a unit, or of a person in it, for the entrusted work."""

    class Level(models.TextChoices):
        CENTRAL = "central", _("Central")
        CITY = "city", _("City / province")
        AREA = "area", _("District / area")
        BANK = "bank", _("Bank for Social Policies")
        ORGANIZATION = "organization", _("Organization")

    awarded_on = models.DateField(_("date"))
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="awards",
        verbose_name=_("unit"),
        help_text=_("The unit awarded, or the unit of the person awarded."),
    )
    person_name = models.CharField(
        _("person"), max_length=200, blank=True, help_text=_("Empty when the award goes to the unit itself.")
    )
    level = models.CharField(_("level"), max_length=15, choices=Level.choices)
    title = models.CharField(_("award"), max_length=200, help_text=_("E.g. certificate of merit (bằng khen)."))
    reason = models.TextField(_("reason"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        ordering = ["-awarded_on", "-pk"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="award_has_reason")]

    def __str__(self):
        return f"{self.title} – {self.recipient}"

    @property
    def recipient(self):
        return self.person_name or str(self.organization)
