"""The entrusting chain: area, wards, the Front and its member organizations, savings groups and officers."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

ward_code_validator = RegexValidator(r"^\d{6}$", _("A ward code has exactly 6 digits."))
neighbourhood_code_validator = RegexValidator(r"^\d{8}$", _("A neighbourhood code has exactly 8 digits."))
group_code_validator = RegexValidator(r"^\d{7}$", _("A group code has exactly 7 digits."))


class Area(models.Model):
    """The top level: a former district or a VBSP transaction office, configurable rather than hard-wired."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind_label = models.CharField(
        _("kind of area"), max_length=100, default=_("District"), help_text=_("E.g. district, transaction office.")
    )

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Ward(models.Model):
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="wards", verbose_name=_("area"))
    code = models.CharField(_("ward code"), max_length=6, unique=True, validators=[ward_code_validator])
    name = models.CharField(_("name"), max_length=200)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_wards",
        verbose_name=_("merged into"),
    )
    merged_on = models.DateField(_("merged on"), null=True, blank=True)

    class Meta:
        verbose_name = _("ward")
        verbose_name_plural = _("wards")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{6}$"), name="ward_code_six_digits"),
            models.CheckConstraint(condition=~Q(merged_into=models.F("pk")), name="ward_not_merged_into_itself"),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(merged_on__isnull=False), name="ward_merger_has_date"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.merged_into_id is None


class Neighbourhood(models.Model):
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="neighbourhoods", verbose_name=_("ward"))
    code = models.CharField(
        _("neighbourhood code"), max_length=8, unique=True, validators=[neighbourhood_code_validator]
    )
    name = models.CharField(_("name"), max_length=200)
    head_name = models.CharField(_("neighbourhood head"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("neighbourhood")
        verbose_name_plural = _("neighbourhoods")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{8}$"), name="neighbourhood_code_eight_digits"),
        ]

    def __str__(self):
        return self.name


class Organization(models.Model):
    """The Front or a member organization, at area level or as a ward branch."""

    class Kind(models.TextChoices):
        FRONT = "front", _("Fatherland Front")
        FARMERS = "11", _("Farmers' Association")
        WOMEN = "12", _("Women's Union")
        VETERANS = "13", _("Veterans' Association")
        YOUTH = "14", _("Youth Union")

    class Level(models.TextChoices):
        DISTRICT = "district", _("District level")
        WARD = "ward", _("Ward branch")

    MEMBER_KINDS = (Kind.FARMERS, Kind.WOMEN, Kind.VETERANS, Kind.YOUTH)

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="organizations", verbose_name=_("area"))
    kind = models.CharField(_("organization"), max_length=5, choices=Kind.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="branches",
        verbose_name=_("district body"),
    )
    ward = models.ForeignKey(
        Ward, on_delete=models.PROTECT, null=True, blank=True, related_name="branches", verbose_name=_("ward")
    )
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("organization unit")
        verbose_name_plural = _("organization units")
        ordering = ["kind", "level", "ward__code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(level="ward", ward__isnull=False, parent__isnull=False))
                | Q(level="district", ward__isnull=True, parent__isnull=True),
                name="organization_level_matches_ward_and_parent",
            ),
            models.UniqueConstraint(
                fields=["area", "kind"], condition=Q(level="district"), name="one_district_body_per_kind"
            ),
            models.UniqueConstraint(fields=["kind", "ward"], condition=Q(level="ward"), name="one_branch_per_ward"),
        ]

    def __str__(self):
        return self.name

    @property
    def bank_code(self):
        """The bank's mã ĐVUT, or None for the Front, which is not an entrusted organization."""
        return None if self.kind == self.Kind.FRONT else self.kind

    @property
    def is_branch(self):
        return self.level == self.Level.WARD


class SavingsGroup(models.Model):
    """Tổ tiết kiệm và vay vốn: borrower households run by one ward branch."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        DISSOLVED = "dissolved", _("Dissolved")

    MIN_MEMBERS = 5
    MAX_MEMBERS = 60

    code = models.CharField(_("group code"), max_length=7, unique=True, validators=[group_code_validator])
    name = models.CharField(_("name"), max_length=200)
    branch = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="groups",
        limit_choices_to={"level": Organization.Level.WARD},
        verbose_name=_("ward branch"),
    )
    neighbourhood = models.ForeignKey(
        Neighbourhood,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="groups",
        verbose_name=_("neighbourhood"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    leader = models.ForeignKey(
        "borrowers.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("leader"),
    )
    deputy = models.ForeignKey(
        "borrowers.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deputy"),
    )
    founded_on = models.DateField(_("founded on"), null=True, blank=True)

    class Meta:
        verbose_name = _("savings-and-loan group")
        verbose_name_plural = _("savings-and-loan groups")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{7}$"), name="group_code_seven_digits"),
            models.CheckConstraint(
                condition=Q(leader__isnull=True) | Q(deputy__isnull=True) | ~Q(leader=models.F("deputy")),
                name="group_leader_is_not_deputy",
            ),
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def ward(self):
        return self.branch.ward


class GroupMembership(models.Model):
    """A household's time in a group; the open row (left_on empty) is its current group."""

    group = models.ForeignKey(SavingsGroup, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("group"))
    household = models.ForeignKey(
        "borrowers.Household", on_delete=models.PROTECT, related_name="memberships", verbose_name=_("household")
    )
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("group membership")
        verbose_name_plural = _("group memberships")
        ordering = ["-joined_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(left_on__isnull=True), name="one_current_group_per_household"
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("joined_on")),
                name="membership_leaves_after_joining",
            ),
        ]
        indexes = [models.Index(fields=["group", "left_on"])]

    def __str__(self):
        return f"{self.household} @ {self.group}"


class OfficerProfile(models.Model):
    """Ties a login to one organization unit with one role."""

    class Role(models.TextChoices):
        WARD_OFFICER = "ward_officer", _("Ward officer")
        DISTRICT_STAFF = "district_staff", _("District staff")
        FRONT_SUPERVISOR = "front_supervisor", _("Front supervisor")
        ADMIN = "admin", _("Administrator")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="officer", verbose_name=_("user")
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="officers", verbose_name=_("organization unit")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    phone = models.CharField(_("phone"), max_length=15, blank=True)

    class Meta:
        verbose_name = _("officer profile")
        verbose_name_plural = _("officer profiles")

    def __str__(self):
        return f"{self.user.get_full_name() or self.user.username} ({self.get_role_display()})"

    @property
    def ward(self):
        return self.organization.ward


# --- Supervision work: what the Front and the organizations record of their own work --------------------------------


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
        from django.utils import timezone

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


class AuditEvent(models.Model):
    """One recorded change to a domain object: who, when, what (before and after), and from where."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        DELETE = "delete", _("Deleted")
        BULK_CREATE = "bulk_create", _("Created in bulk")
        BULK_UPDATE = "bulk_update", _("Changed in bulk")

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT, verbose_name=_("kind"))
    object_id = models.CharField(_("object"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    import_batch_id = models.BigIntegerField(_("import batch"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"


# --- Monthly group grades ---------------------------------------------------------------------------------------

from django.utils import timezone  # noqa: E402


class GradingCriteria(models.Model):
    """Weights of the monthly group score (they add up to 100) and the grade thresholds. The newest row applies."""

    name = models.CharField(_("name"), max_length=200)
    valid_from = models.DateField(_("valid from"))
    overdue_weight = models.PositiveSmallIntegerField(_("weight: overdue ratio"), default=40)
    overdue_ratio_zero_at = models.DecimalField(
        _("overdue ratio that scores nothing (%)"), max_digits=5, decimal_places=2, default=5,
        help_text=_("No overdue debt scores the full weight; this ratio or more scores zero, linearly in between."),
    )
    interest_weight = models.PositiveSmallIntegerField(_("weight: paid interest for 3 months"), default=30)
    savings_weight = models.PositiveSmallIntegerField(_("weight: members who saved"), default=15)
    meetings_weight = models.PositiveSmallIntegerField(_("weight: regular meetings"), default=15)
    good_from = models.PositiveSmallIntegerField(_("good from"), default=85)
    fair_from = models.PositiveSmallIntegerField(_("fair from"), default=70)
    average_from = models.PositiveSmallIntegerField(_("average from"), default=50)

    class Meta:
        verbose_name = _("group grading criteria")
        verbose_name_plural = _("group grading criteria")
        ordering = ["-valid_from", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(overdue_ratio_zero_at__gt=0),
                name="grading_overdue_zero_at_positive",
            ),
            models.CheckConstraint(
                condition=Q(
                    good_from__lte=100, fair_from__lt=models.F("good_from"), average_from__lt=models.F("fair_from")
                ),
                name="grading_thresholds_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        total = self.overdue_weight + self.interest_weight + self.savings_weight + self.meetings_weight
        if total != 100:
            raise ValidationError(_("The four weights must add up to 100 (now %(total)s).") % {"total": total})

    def grade_for(self, score):
        if score >= self.good_from:
            return GroupGrade.Grade.GOOD
        if score >= self.fair_from:
            return GroupGrade.Grade.FAIR
        if score >= self.average_from:
            return GroupGrade.Grade.AVERAGE
        return GroupGrade.Grade.WEAK


class GroupGrade(models.Model):
    """Xếp loại tổ: one group's score and grade for one month, kept as history."""

    class Grade(models.TextChoices):
        GOOD = "good", _("Good")
        FAIR = "fair", _("Fair")
        AVERAGE = "average", _("Average")
        WEAK = "weak", _("Weak")

    group = models.ForeignKey(SavingsGroup, on_delete=models.CASCADE, related_name="grades", verbose_name=_("group"))
    month = models.DateField(_("month"), help_text=_("First day of the graded month."))
    score = models.PositiveSmallIntegerField(_("score"))
    grade = models.CharField(_("grade"), max_length=10, choices=Grade.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("group grade")
        verbose_name_plural = _("group grades")
        ordering = ["group", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["group", "month"], name="one_grade_per_group_month"),
            models.CheckConstraint(condition=Q(score__lte=100), name="group_score_at_most_100"),
        ]

    def __str__(self):
        return f"{self.group} {self.month:%m/%Y}: {self.score} ({self.get_grade_display()})"
