"""Reversal requests: asked from a 13/TD row, a posting or a loan; decided by district staff on one page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loans.forms.collection import ConfirmedReversalForm, ReversalDecisionForm, ReversalForm
from loans.models import ReversalRequest
from loans.selectors.collection import collection_lines_for, reversal_requests_for
from loans.selectors.loans import postings_for
from loans.services.collection_reversals import reversal_decide, reversal_request
from organizations.errors import DomainError
from organizations.policy import allowed, may

PAGE_SIZE = 50


def _back(request, fallback):
    """Where the form came from (a row, a loan), if it is one of ours; else `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _errors(form):
    return " ".join(message for errors in form.errors.values() for message in errors)


def target_url(request_row):
    """The page of what a request is about: the 13/TD row, or the loan (a posting outside any sheet)."""
    line = request_row.line
    if line is None:
        line = request_row.posting.collection_lines.first()
    if line is not None:
        return reverse("loans:collection_line_detail", args=[line.sheet_id, line.pk])
    return reverse("loans:loan_detail", args=[request_row.posting.loan_id])


@require_POST
@allowed("reversal.request")
def posting_reverse_view(request, pk):
    """Ask for one posting to be reversed (a reversal posting: to be undone)."""
    posting = get_object_or_404(postings_for(request.user), pk=pk)
    form = ConfirmedReversalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
    else:
        try:
            reversal_request(posting=posting, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, _("The reversal is asked for; it takes effect when district staff approve it."))
        except DomainError as error:
            messages.error(request, error.message)
    line = posting.collection_lines.first()
    if line is not None:
        fallback = reverse("loans:collection_line_detail", args=[line.sheet_id, line.pk])
    elif posting.loan_id:
        fallback = reverse("loans:loan_detail", args=[posting.loan_id])
    else:
        fallback = reverse("loans:reversal_requests")
    return redirect(_back(request, fallback))


@require_POST
@allowed("reversal.request")
def collection_line_reverse_view(request, pk, line_pk):
    """Ask for a whole posted 13/TD row to be reversed."""
    line = get_object_or_404(collection_lines_for(request.user), sheet=pk, pk=line_pk)
    form = ReversalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the reversal."))
    else:
        try:
            reversal_request(line=line, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, _("The reversal is asked for; it takes effect when district staff approve it."))
        except DomainError as error:
            messages.error(request, error.message)
    return redirect("loans:collection_line_detail", pk=line.sheet_id, line_pk=line.pk)


@login_required
@require_GET
def reversal_request_list(request):
    """What waits for a decision, oldest first, then what was decided, newest first."""
    requests = reversal_requests_for(request.user)
    pending = list(requests.filter(status=ReversalRequest.Status.PROPOSED).order_by("requested_at", "pk"))
    decided = Paginator(
        requests.exclude(status=ReversalRequest.Status.PROPOSED).order_by("-decided_at", "-pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for row in [*pending, *decided]:
        row.url = target_url(row)
    return render(
        request,
        "loans/reversal_requests.html",
        {"pending": pending, "decided": decided, "can_decide": may(request.user, "reversal.decide"),
         "form": ReversalDecisionForm()},
    )


@require_POST
@allowed("reversal.decide")
def reversal_decide_view(request, pk):
    row = get_object_or_404(reversal_requests_for(request.user), pk=pk)
    form = ReversalDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
    else:
        approve = form.cleaned_data["decision"] == ReversalDecisionForm.APPROVE
        try:
            reversal_decide(request=row, approve=approve, reason=form.cleaned_data["reason"], actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("The reversal is posted on the original's value date.") if approve
                else _("The reversal request is refused; nothing changed."),
            )
    return redirect(_back(request, reverse("loans:reversal_requests")))
