"""Savings groups: list, detail, found and edit. Members move through the household pages."""


from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from organizations.access import ALL_ROLES, WARD_WORK, has_role, role_required
from organizations.errors import DomainError
from organizations.forms import GroupForm, apply_domain_error, refuse_out_of_scope, todays_units
from organizations.models import SavingsGroup
from organizations.selectors.scope import groups_for, wards_for, with_group_figures
from organizations.services import groups as group_services

GROUP_PAGE_SIZE = 25


@require_safe
@role_required(*ALL_ROLES)
def group_list(request):
    groups = with_group_figures(groups_for(request.user).select_related("leader", "neighbourhood"))
    query = request.GET.get("q", "").strip()
    if query:
        groups = groups.filter(Q(code__startswith=query) | Q(name__icontains=query))
    # A group's ward is today's ward: the wards merged away hold no group.
    wards = todays_units(wards_for(request.user))
    ward = request.GET.get("ward", "")
    if ward:
        groups = groups.filter(branch__ward__code=ward)
    status = request.GET.get("status", "")
    if status in SavingsGroup.Status.values:
        groups = groups.filter(status=status)
    page = Paginator(groups.order_by("code"), GROUP_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "organizations/group_list.html", {
        "page": page, "q": query, "wards": wards if len(wards) > 1 else [], "ward": ward, "status": status,
        "statuses": SavingsGroup.Status.choices, "query": params.urlencode(),
        "can_change": has_role(request.user, *WARD_WORK),
    })


@require_safe
@role_required(*ALL_ROLES)
def group_detail(request, pk):
    from borrowers.models import Household
    from borrowers.selectors import with_outstanding
    from loans.models import LoanApplication
    from loans.selectors.requests import applications_for

    group = get_object_or_404(
        with_group_figures(groups_for(request.user).select_related("leader", "deputy", "neighbourhood")), pk=pk
    )
    members = with_outstanding(
        Household.objects.filter(memberships__group=group, memberships__left_on__isnull=True)
    ).order_by("search_name", "pk")
    requests = (
        applications_for(request.user)
        .filter(group=group, status__in=LoanApplication.OPEN_STATUSES)
        .order_by("status", "-created_at")
    )
    meetings = group.review_meetings.select_related("loan_list").order_by("-held_on", "-pk")[:20]
    transfers = group.transfers.select_related("from_branch", "merger").order_by("-moved_on", "-pk")
    return render(request, "organizations/group_detail.html", {
        "group": group, "members": members, "requests": requests, "meetings": meetings, "transfers": transfers,
        "can_change": has_role(request.user, *WARD_WORK),
    })


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def group_create(request):
    form = GroupForm(request.POST or None, user=request.user)
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            try:
                group = group_services.group_create(data=form.cleaned_data, actor=request.user)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("Group %(group)s is set up.") % {"group": group})
                return redirect("organizations:group_detail", pk=group.pk)
    return render(request, "organizations/group_form.html", {"form": form, "group": None})


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def group_update(request, pk):
    group = get_object_or_404(groups_for(request.user), pk=pk)
    fields = ("name", "neighbourhood", "status", "founded_on", "leader", "deputy")
    initial = {name: getattr(group, name) for name in fields}
    form = GroupForm(request.POST or None, user=request.user, group=group, initial=initial)
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            try:
                group_services.group_update(group=group, data=form.cleaned_data, actor=request.user)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("The group is saved."))
                return redirect("organizations:group_detail", pk=group.pk)
    return render(request, "organizations/group_form.html", {"form": form, "group": group})
