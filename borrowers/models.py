"""Borrower households: who they are, where they live, and their policy status."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from unidecode import unidecode

from borrowers import identity

customer_code_validator = RegexValidator(r"^\d{10}$", _("A bank customer code has exactly 10 digits."))


def fold_name(value):
    """Lower-case, accent-free form of a name, so that "nguyen" finds "Nguyễn"."""
    return " ".join(unidecode(value or "").lower().split())


class Household(models.Model):
    class PolicyStatus(models.TextChoices):
        POOR = "poor", _("Poor household")
        NEAR_POOR = "near_poor", _("Near-poor household")
        ESCAPED = "escaped", _("Newly escaped poverty")
        OTHER_POLICY = "other_policy", _("Other policy group")
        NONE = "none", _("No policy status")

    customer_code = models.CharField(
        _("customer code"),
        max_length=10,
        unique=True,
        null=True,
        blank=True,
        validators=[customer_code_validator],
        help_text=_("The bank's 10-digit code, given when the household first borrows."),
    )
    head_name = models.CharField(_("head of household"), max_length=200)
    # Indexed in Meta.indexes: one plain index (ordering, equality); no prefix LIKE reads it, so no _like index.
    search_name = models.CharField(max_length=200, editable=False)
    citizen_id = models.CharField(
        _("citizen ID (CCCD)"), max_length=12, unique=True, validators=[identity.validate_citizen_id]
    )
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    phone = models.CharField(
        _("mobile phone"), max_length=10, blank=True, validators=[identity.validate_mobile_phone]
    )
    address = models.CharField(_("address"), max_length=300)
    ward = models.ForeignKey(
        "organizations.Ward", on_delete=models.PROTECT, related_name="households", verbose_name=_("ward")
    )
    neighbourhood = models.ForeignKey(
        "organizations.Neighbourhood",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="households",
        verbose_name=_("neighbourhood"),
    )
    branch = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("managing branch"),
        help_text=_("The organization's ward branch that looks after this household."),
    )
    members = models.PositiveSmallIntegerField(_("household members"), default=1, validators=[MinValueValidator(1)])
    policy_status = models.CharField(
        _("policy status"), max_length=20, choices=PolicyStatus.choices, default=PolicyStatus.POOR
    )
    policy_list_year = models.PositiveSmallIntegerField(_("year of the ward's list"), null=True, blank=True)
    escaped_year = models.PositiveSmallIntegerField(
        _("year it left the poor list"), null=True, blank=True, help_text=_("Only for newly escaped poverty.")
    )
    # Cached from postings; `check_ledger` verifies it.
    savings_balance = models.DecimalField(_("savings balance"), max_digits=18, decimal_places=0, default=0)
    import_batch = models.ForeignKey(
        "loans.ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="households"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["search_name", "pk"]
        indexes = [models.Index(fields=["search_name"], name="household_search_name")]
        constraints = [
            models.CheckConstraint(condition=Q(citizen_id__regex=r"^[0-9]{12}$"), name="household_citizen_id_12"),
            models.CheckConstraint(
                condition=Q(customer_code__isnull=True) | Q(customer_code__regex=r"^[0-9]{10}$"),
                name="household_customer_code_10",
            ),
            models.CheckConstraint(
                condition=Q(policy_status="none") | Q(policy_list_year__isnull=False),
                name="household_policy_status_has_list_year",
            ),
            models.CheckConstraint(
                condition=~Q(policy_status="escaped") | Q(escaped_year__isnull=False),
                name="household_escaped_has_year",
            ),
            models.CheckConstraint(condition=Q(savings_balance__gte=0), name="household_savings_not_negative"),
        ]

    def __str__(self):
        return self.head_name

    def save(self, *args, **kwargs):
        self.search_name = fold_name(self.head_name)
        if kwargs.get("update_fields") is not None and "head_name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_name"}
        super().save(*args, **kwargs)

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.policy_status != self.PolicyStatus.NONE and not self.policy_list_year:
            errors["policy_list_year"] = _("Give the year of the ward's list for this policy status.")
        if self.policy_status == self.PolicyStatus.ESCAPED and not self.escaped_year:
            errors["escaped_year"] = _("Give the year the household left the poor list.")
        if self.branch_id and self.ward_id and self.branch.ward_id != self.ward_id:
            errors["branch"] = _("The managing branch must be in the household's ward.")
        if self.birth_year and identity.citizen_id_error(self.citizen_id) is None:
            # Digits 4-6 of the citizen ID and the year of birth say the same thing; the number alone is checked by
            # the field's validator.
            mismatch = identity.citizen_id_error(self.citizen_id, birth_year=self.birth_year)
            if mismatch is not None:
                errors["citizen_id"] = mismatch
        if errors:
            raise ValidationError(errors)

    @property
    def current_membership(self):
        return self.memberships.filter(left_on__isnull=True).select_related("group").first()
