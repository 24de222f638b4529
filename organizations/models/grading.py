"""Monthly group grades: the grading criteria and each group's grade for a month."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models.chart import SavingsGroup


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
