"""Household registry pages: list and search, detail, register, edit and move to another group."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from borrowers import services
from borrowers.forms import HouseholdFilterForm, HouseholdForm, HouseholdMoveForm
from borrowers.selectors import household_search, households_for, with_current_group, with_outstanding
from loans.models import ApplicationStatusChange
from loans.selectors.loans import loans_for
from loans.selectors.requests import applications_for
from organizations.access import ALL_ROLES, WARD_WORK, has_role, role_required, sees_personal_data
from organizations.errors import DomainError
from organizations.forms import apply_domain_error, refuse_out_of_scope
from organizations.models import GroupMembership
from organizations.selectors.scope import groups_for

PAGE_SIZE = 25


@require_safe
@role_required(*ALL_ROLES)
def household_list(request):
    groups = groups_for(request.user)
    form = HouseholdFilterForm(request.GET or None, groups=groups, whole_numbers=not sees_personal_data(request.user))
    households = with_outstanding(with_current_group(households_for(request.user)))
    if form.is_bound:
        refuse_out_of_scope(form)
        if form.is_valid():
            households = household_search(households, user=request.user, query=form.cleaned_data["q"],
                                          group=form.cleaned_data["group"],
                                          policy_status=form.cleaned_data["policy_status"],
                                          outstanding=form.cleaned_data["outstanding"])
    page = Paginator(households.order_by("search_name", "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "borrowers/household_list.html", {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_change": has_role(request.user, *WARD_WORK),
    })


@require_safe
@role_required(*ALL_ROLES)
def household_detail(request, pk):
    household = get_object_or_404(households_for(request.user).select_related("neighbourhood"), pk=pk)
    memberships = (
        GroupMembership.objects.filter(household=household).select_related("group").order_by("-joined_on", "-pk")
    )
    loans = loans_for(request.user).filter(household=household).order_by("-disbursed_on")
    applications = (
        applications_for(request.user)
        .filter(household=household)
        .select_related("meeting", "loan_list")
        .prefetch_related(
            Prefetch("status_changes", queryset=ApplicationStatusChange.objects.select_related("actor"))
        )
    )
    current = next((m for m in memberships if m.left_on is None), None)
    return render(request, "borrowers/household_detail.html", {
        "household": household,
        "memberships": memberships,
        "current": current,
        "loans": loans,
        "applications": applications,
        "can_change": has_role(request.user, *WARD_WORK),
    })


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def household_create(request):
    groups = groups_for(request.user)
    form = HouseholdForm(request.POST or None, groups=groups, initial={"group": request.GET.get("group")})
    registered = None
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            try:
                household = services.household_create(data=form.cleaned_data, actor=request.user)
            except DomainError as error:
                apply_domain_error(form, error)
                registered = getattr(error, "household", None)
            else:
                messages.success(request, _("Household %(name)s is registered.") % {"name": household.head_name})
                return redirect("borrowers:household_detail", pk=household.pk)
    return render(request, "borrowers/household_form.html", {
        "form": form, "household": None, "registered": registered,
    })


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def household_update(request, pk):
    household = get_object_or_404(households_for(request.user), pk=pk)
    initial = {name: getattr(household, name) for name in services.HOUSEHOLD_FIELDS}
    form = HouseholdForm(request.POST or None, groups=groups_for(request.user), household=household, initial=initial)
    registered = None
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            try:
                services.household_update(household=household, data=form.cleaned_data, actor=request.user)
            except DomainError as error:
                apply_domain_error(form, error)
                registered = getattr(error, "household", None)
            else:
                messages.success(request, _("The household's data is saved."))
                return redirect("borrowers:household_detail", pk=household.pk)
    return render(request, "borrowers/household_form.html", {
        "form": form, "household": household, "registered": registered,
    })


@require_http_methods(["GET", "POST"])
@role_required(*WARD_WORK)
def household_move(request, pk):
    household = get_object_or_404(households_for(request.user), pk=pk)
    form = HouseholdMoveForm(request.POST or None, household=household, groups=groups_for(request.user))
    if request.method == "POST":
        refuse_out_of_scope(form)
        if form.is_valid():
            try:
                services.household_move(household=household, group=form.cleaned_data["group"],
                                        on=form.cleaned_data["on"], note=form.cleaned_data["note"],
                                        actor=request.user)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("The household moved to group %(group)s.")
                                 % {"group": form.cleaned_data["group"].code})
                return redirect("borrowers:household_detail", pk=household.pk)
    return render(request, "borrowers/household_move.html", {
        "form": form, "household": household, "current": household.current_membership,
    })
