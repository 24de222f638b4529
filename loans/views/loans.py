"""The loan page: its schedule, history, changes and checks."""

from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from loans.calendar import WorkingCalendar
from loans.forms.changes import LoanChangeDecisionForm
from loans.models import CollectionSheet, Loan, LoanChange, Posting
from loans.selectors.collection import reversal_requests_for
from loans.selectors.loans import loans_for
from loans.selectors.statements import statement_entries
from loans.services.changes import extension_limit_months, extension_months_used, unpaid_instalments
from loans.views.common import _history_prefetch
from organizations.access import ALL_ROLES, DISTRICT_WORK, WARD_WORK, has_role, role_required
from organizations.policy import may

RECENT_POSTINGS = 12


def next_steps(*, user, loan, pending, reversal_requests, disbursement, today):
    """What this viewer can do next on the loan ("Việc tiếp theo"): (words, link) pairs, most pressing first."""
    steps = []
    open_loan = loan.status in (Loan.Status.ACTIVE, Loan.Status.FROZEN)
    if has_role(user, *DISTRICT_WORK):
        if pending is not None:
            steps.append((_("Decide the pending change: %(kind)s") % {"kind": pending.get_kind_display()},
                          "#pending-change"))
        if any(row.is_pending for row in reversal_requests) and may(user, "reversal.decide"):
            steps.append((_("Decide the request to reverse a posting"), "#reversal-requests"))
        if disbursement is not None and may(user, "disbursement_reversal.request"):
            steps.append((_("Ask to reverse the disbursement"), "#disbursement-reversal"))
    if has_role(user, *WARD_WORK) and open_loan:
        if pending is None:
            steps.append((_("Request a change (term adjustment, extension, freeze, write-off)"), "#change-request"))
        steps.append((_("Record a loan-use check (06/TD)"), reverse("loans:loan_use_check_record", args=[loan.pk])))
        sheet = CollectionSheet.objects.filter(group_id=loan.group_id, collection_on=today).only("pk").first()
        if sheet is not None:
            steps.append((_("Open today's collection sheet (13/TD)"),
                          reverse("loans:collection_sheet_detail", args=[sheet.pk])))
        else:
            steps.append((_("Prepare today's collection sheet (13/TD)"), reverse("loans:collection_sheet_list")))
    return steps


@require_GET
@role_required(*ALL_ROLES)
def loan_detail(request, pk):
    loan = get_object_or_404(
        loans_for(request.user).select_related("household__branch", "group__branch__ward", "application", "created_by"),
        pk=pk,
    )
    instalments = list(loan.instalments.order_by("due_on", "seq"))
    unpaid = {i.pk for i in unpaid_instalments(loan, instalments)}
    calendar = WorkingCalendar.for_span(loan.disbursed_on, loan.maturity_on)
    for instalment in instalments:
        instalment.is_paid = instalment.pk not in unpaid
        # A due date on a weekend or holiday is payable on the next working day; the schedule shows both.
        instalment.effective_due_on = calendar.on_or_after(instalment.due_on)
    changes = loan.changes.select_related("instalment", "requested_by", "decided_by").order_by("-requested_on", "-pk")
    pending = next((c for c in changes if c.is_pending), None)
    limit = extension_limit_months(loan)
    entries, _totals = statement_entries(loan)
    if loan.application is not None:
        prefetch_related_objects([loan.application], _history_prefetch())
    reversal_requests = list(
        reversal_requests_for(request.user).filter(posting__loan=loan).order_by("-requested_at", "-pk")
    )
    # The disbursement that still stands, from the statement's postings: what district staff may ask to reverse.
    disbursement = next(
        (entry.posting for entry in entries
         if entry.posting.kind == Posting.Kind.DISBURSEMENT and not entry.reversed_on),
        None,
    ) if not any(row.is_pending for row in reversal_requests) else None
    context = {
        "next_steps": next_steps(user=request.user, loan=loan, pending=pending, reversal_requests=reversal_requests,
                                 disbursement=disbursement, today=timezone.localdate()),
        "reversal_requests": reversal_requests,
        "disbursement": disbursement,
        "can_ask_disbursement_reversal": may(request.user, "disbursement_reversal.request"),
        "can_decide_reversal": may(request.user, "reversal.decide"),
        # Newest first; the statement page has them all, oldest first, for printing.
        "recent_entries": entries[::-1][:RECENT_POSTINGS],
        "posting_count": len(entries),
        "loan": loan,
        "instalments": instalments,
        "changes": changes,
        "pending": pending,
        "status_changes": loan.status_changes.select_related("actor"),
        "use_checks": loan.use_checks.select_related("checked_by"),
        "can_request": has_role(request.user, *WARD_WORK) and pending is None,
        "can_check": has_role(request.user, *WARD_WORK),
        "can_decide": has_role(request.user, *DISTRICT_WORK),
        "extension_limit": limit,
        "extension_left": max(0, limit - extension_months_used(loan, changes)),
        "kinds": LoanChange.Kind,
        "today": timezone.localdate(),
        "decision_form": LoanChangeDecisionForm(),
        "schedule_total": sum(i.principal for i in instalments),
        "application": loan.application,
    }
    return render(request, "loans/loan_detail.html", context)
