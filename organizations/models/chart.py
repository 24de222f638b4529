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
    # Unique among the wards in being: a ward formed by a merger may take over the code of one it was formed from.
    code = models.CharField(_("ward code"), max_length=6, validators=[ward_code_validator])
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
            models.UniqueConstraint(
                fields=["code"], condition=Q(merged_on__isnull=True), name="one_ward_in_being_per_code",
                violation_error_message=_("Another ward in being already has this code."),
            ),
            models.CheckConstraint(condition=~Q(merged_into=models.F("pk")), name="ward_not_merged_into_itself"),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(merged_on__isnull=False), name="ward_merger_has_date"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.merged_on is None

    def successor(self):
        """The ward in being that this one is now part of (itself when it was never merged)."""
        ward = self
        while ward.merged_into_id is not None:
            ward = ward.merged_into
        return ward


class Neighbourhood(models.Model):
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="neighbourhoods", verbose_name=_("ward"))
    code = models.CharField(
        _("neighbourhood code"), max_length=8, unique=True, validators=[neighbourhood_code_validator]
    )
    name = models.CharField(_("name"), max_length=200)
    head_name = models.CharField(_("neighbourhood head"), max_length=200, blank=True)
    # The ward it belonged to before a merger moved it (its name may repeat in the new ward); cleared on a rename.
    former_ward = models.ForeignKey(
        Ward, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("former ward"),
        help_text=_("Set by a ward merger; cleared when the neighbourhood is renamed."),
    )

    class Meta:
        verbose_name = _("neighbourhood")
        verbose_name_plural = _("neighbourhoods")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{8}$"), name="neighbourhood_code_eight_digits"),
        ]

    def __str__(self):
        return self.name

    @property
    def label(self):
        """Its name, with the ward it came from while it has not been renamed since a merger moved it
        ("Khu phố 1 (Thạnh Xuân cũ)"). Select `ward` and `former_ward` with it."""
        if self.former_ward_id and self.former_ward.name != self.ward.name:
            return _("%(name)s (former %(ward)s)") % {"name": self.name, "ward": self.former_ward.name}
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
    # A ward branch whose ward merged: it stays as history; its groups, households and officers moved on.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_branches",
        verbose_name=_("merged into"),
    )
    merged_on = models.DateField(_("merged on"), null=True, blank=True)

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

    # No index of its own: the (group, left_on) index serves it.
    group = models.ForeignKey(
        SavingsGroup, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("group"), db_index=False
    )
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
