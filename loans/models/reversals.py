"""Requests to reverse money already posted: one person asks, another decides (maker–checker)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loans.models.capital import CapitalDecision, _decision_constraints
from loans.models.collection import CollectionLine
from loans.models.ledger import Posting


class ReversalRequest(CapitalDecision):
    """A request to reverse one posting (a disbursement, a repayment, a savings movement, or a reversal to undo it)
    or a whole posted 13/TD row. Nothing moves until someone other than the requester approves it; the reversal then
    takes the original's value date, so the ledger equals an entry that was right the first time."""

    posting = models.ForeignKey(
        Posting, on_delete=models.PROTECT, null=True, blank=True, related_name="reversal_requests",
        verbose_name=_("posting"),
    )
    line = models.ForeignKey(
        CollectionLine, on_delete=models.PROTECT, null=True, blank=True, related_name="reversal_requests",
        verbose_name=_("collection row"),
    )
    reason = models.CharField(_("reason for the reversal"), max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)

    class Meta:
        verbose_name = _("reversal request")
        verbose_name_plural = _("reversal requests")
        ordering = ["requested_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(posting__isnull=False) & Q(line__isnull=True))
                | (Q(posting__isnull=True) & Q(line__isnull=False)),
                name="reversal_request_one_target",
            ),
            models.UniqueConstraint(
                fields=["posting"], condition=Q(status="proposed", posting__isnull=False),
                name="reversal_request_one_pending_per_posting",
            ),
            models.UniqueConstraint(
                fields=["line"], condition=Q(status="proposed", line__isnull=False),
                name="reversal_request_one_pending_per_line",
            ),
            *_decision_constraints("reversal_request", "requested_by"),
        ]

    def __str__(self):
        target = self.posting if self.posting_id else self.line
        return f"{target} ({self.get_status_display()})"

    @property
    def is_restore(self):
        """Undoing a reversal: the original posting is entered again."""
        return self.posting_id is not None and self.posting.kind == Posting.Kind.REVERSAL

    @property
    def is_disbursement(self):
        """Reversing a disbursement, or undoing such a reversal: a district decision on both sides."""
        if self.posting_id is None:
            return False
        posting = self.posting.reverses if self.is_restore else self.posting
        return posting.kind == Posting.Kind.DISBURSEMENT
