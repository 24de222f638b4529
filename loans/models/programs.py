"""Loan programs (LoanProgram), their rates and ceilings, and the history of their rates (ProgramRate)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loans.interest import RateHistory
from loans.money import MoneyField, format_vnd


class LoanProgram(models.Model):
    """A policy lending program. Rates and ceilings are editable data, seeded from DOMAIN.md's defaults."""

    code = models.CharField(_("program code"), max_length=10, unique=True)
    name = models.CharField(_("name"), max_length=200)
    annual_rate = models.DecimalField(
        _("annual rate (%)"), max_digits=6, decimal_places=3, validators=[MinValueValidator(0)]
    )
    overdue_multiplier = models.DecimalField(
        _("overdue rate multiplier"), max_digits=4, decimal_places=2, default=1.30, validators=[MinValueValidator(1)]
    )
    max_amount = MoneyField(_("maximum amount"), validators=[MinValueValidator(1)])
    max_amount_per_month = models.BooleanField(
        _("maximum is per month of study"),
        default=False,
        help_text=_("For student loans: the maximum applies to each month of the term."),
    )
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), validators=[MinValueValidator(1)])
    eligible_statuses = models.JSONField(
        _("policy statuses it lends to"),
        default=list,
        help_text=_("Policy status codes: poor, near_poor, escaped, other_policy, none."),
    )
    escaped_within_years = models.PositiveSmallIntegerField(
        _("left the poor list at most (years)"),
        null=True,
        blank=True,
        help_text=_("For the newly-escaped program: how long ago the household may have left the list."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # The change rules (DOMAIN.md, "Changes and risk handling"), editable per program.
    min_freeze_months = models.PositiveSmallIntegerField(
        _("shortest freeze (months)"), default=36, validators=[MinValueValidator(1)],
        help_text=_("A freeze (khoanh nợ) lasts 3 to 5 years by default."),
    )
    max_freeze_months = models.PositiveSmallIntegerField(
        _("longest freeze (months)"), default=60, validators=[MinValueValidator(1)]
    )
    short_loan_months = models.PositiveSmallIntegerField(
        _("short loan: term up to (months)"), default=12, validators=[MinValueValidator(1)],
        help_text=_("Loans with a term up to this many months may be extended by the fixed number of months below; "
                    "longer loans by a share of their term."),
    )
    short_loan_extension_months = models.PositiveSmallIntegerField(
        _("longest extension of a short loan (months)"), default=12, validators=[MinValueValidator(1)]
    )
    extension_term_percent = models.PositiveSmallIntegerField(
        _("longest extension of a longer loan (percent of its term)"), default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    term_adjustment_notice_days = models.PositiveSmallIntegerField(
        _("term adjustment notice (working days)"), default=5,
        help_text=_("A term adjustment (08/TD) is asked at least this many working days before the instalment is due."),
    )

    class Meta:
        verbose_name = _("loan program")
        verbose_name_plural = _("loan programs")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(annual_rate__gte=0), name="program_rate_not_negative"),
            models.CheckConstraint(condition=Q(max_amount__gt=0), name="program_max_amount_positive"),
            models.CheckConstraint(condition=Q(overdue_multiplier__gte=1), name="program_overdue_multiplier_min_1"),
            models.CheckConstraint(
                condition=Q(min_freeze_months__gte=1, max_freeze_months__gte=F("min_freeze_months")),
                name="program_freeze_bounds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(short_loan_extension_months__gte=1, extension_term_percent__gte=1,
                            extension_term_percent__lte=100),
                name="program_extension_bounds_valid",
            ),
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def monthly_rate(self):
        """Percent per month, e.g. 0.55 for 6.6 %/year."""
        return self.annual_rate / 12

    def ceiling_for(self, term_months):
        return self.max_amount * term_months if self.max_amount_per_month else self.max_amount

    def request_limit_errors(self, *, amount, term_months):
        """What in a request breaks the program's longest term and ceiling, as {field: message}: the 01/TD form shows
        them all at once and the service refuses on the first. A missing value is not checked here."""
        errors = {}
        if term_months is not None and term_months > self.max_term_months:
            errors["term_months"] = gettext("The longest term of program %(program)s is %(max)s months.") % {
                "program": self.code, "max": self.max_term_months,
            }
        if amount is not None and (term_months is not None or not self.max_amount_per_month):
            # A term past the longest is judged against the longest term's ceiling, so the amount still gets its say.
            ceiling = self.ceiling_for(min(term_months or self.max_term_months, self.max_term_months))
            if amount > ceiling:
                errors["amount"] = gettext("Program %(program)s lends at most %(max)s for this term.") % {
                    "program": self.code, "max": format_vnd(ceiling),
                }
        return errors

    def clean(self):
        super().clean()
        if self.min_freeze_months and self.max_freeze_months and self.min_freeze_months > self.max_freeze_months:
            raise ValidationError({"max_freeze_months": _("The longest freeze cannot be shorter than the shortest.")})

    def extension_limit_months(self, term_months):
        """Up to `short_loan_extension_months` for short loans, otherwise up to the set share of the term."""
        if term_months <= self.short_loan_months:
            return self.short_loan_extension_months
        return term_months * self.extension_term_percent // 100

    def rate_history(self):
        """The program's rate on any day (RateHistory): its rate decisions from their dates on, `annual_rate` before
        the first of them or when it has none. One query; callers that date many loans keep it."""
        return RateHistory(self.annual_rate, self.rates.values_list("effective_from", "annual_rate"))

    def rate_on(self, day):
        """The annual rate in force on `day`: a new loan takes it from its disbursement date, not `annual_rate`,
        which the day close moves to a decision only at the end of the decision's first day."""
        return self.rate_history().rate_on(day)

    def sync_current_rate(self, on):
        """Make `annual_rate` the rate in force on `on` (the latest ProgramRate from on or before it). Returns True if
        it changed. Open loans follow the history day by day (loans/interest.py); new loans take `rate_on`."""
        rate = self.rates.filter(effective_from__lte=on).order_by("-effective_from").values_list("annual_rate", flat=True)
        rate = rate.first()
        if rate is None or rate == self.annual_rate:
            return False
        self.annual_rate = rate
        self.save(update_fields=["annual_rate"])
        return True


class ProgramRate(models.Model):
    """A rate decision: from `effective_from` on, every open loan of the program accrues at `annual_rate`.

    Rates are never edited in place: a change is a new row, so interest for any past day is computed at the rate then
    in force. A loan disbursed after a decision keeps its own rate (Loan.annual_rate, which may be a reduced rate)
    until the next decision."""

    program = models.ForeignKey(LoanProgram, on_delete=models.PROTECT, related_name="rates", verbose_name=_("program"))
    annual_rate = models.DecimalField(
        _("annual rate (%)"), max_digits=6, decimal_places=3, validators=[MinValueValidator(0)]
    )
    effective_from = models.DateField(_("in force from"))
    decision = models.CharField(_("decision"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("program rate")
        verbose_name_plural = _("program rates")
        ordering = ["program", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["program", "effective_from"], name="one_program_rate_per_day"),
            models.CheckConstraint(condition=Q(annual_rate__gte=0), name="program_rate_history_not_negative"),
        ]

    def __str__(self):
        return f"{self.program_id}: {self.annual_rate} % from {self.effective_from:%d/%m/%Y}"
