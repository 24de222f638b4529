"""Pages about the organization tree. The home page shows the user's portfolio by organization."""

from math import ceil

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    OuterRef,
    Q,
    Subquery,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from loans.selectors import loans_for, portfolio_by_organization
from organizations import services as group_services
from organizations.access import ALL_ROLES, WARD_WORK, Role, has_role, role_required
from organizations.errors import DomainError
from organizations.forms import GroupForm, apply_domain_error, refuse_out_of_scope
from organizations.models import (
    GroupGrade,
    Organization,
    SavingsGroup,
)
from organizations.selectors import groups_for, locked_logins, login_events, wards_for, with_group_figures


@login_required
def home(request):
    figures = portfolio_by_organization(loans=loans_for(request.user))
    labels = dict(Organization.Kind.choices)
    rows = [{"code": code, "name": labels.get(code, code), **values} for code, values in figures.items()]
    totals = {key: sum(row[key] for row in rows) for key in ("outstanding", "overdue", "households")}
    return render(request, "organizations/home.html", {"rows": rows, "totals": totals})


# Logins: the lockout page (called by django-axes), the password change page and the admins' login log.


def login_locked_out(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("organizations:home")
    success_message = _("Your password has been changed.")


@require_GET
@role_required(Role.ADMIN)
def login_log(request):
    username = request.GET.get("username", "").strip()
    page = Paginator(login_events(username=username), 50).get_page(request.GET.get("page"))
    context = {"page": page, "username": username, "locked": locked_logins()}
    return render(request, "organizations/login_log.html", context)


# Savings groups: list, detail, found and edit. Members move through the household pages.


GROUP_PAGE_SIZE = 25


@require_safe
@role_required(*ALL_ROLES)
def group_list(request):
    groups = with_group_figures(groups_for(request.user).select_related("leader", "neighbourhood"))
    query = request.GET.get("q", "").strip()
    if query:
        groups = groups.filter(Q(code__startswith=query) | Q(name__icontains=query))
    wards = wards_for(request.user)
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
    from loans.selectors import applications_for

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
    return render(request, "organizations/group_detail.html", {
        "group": group, "members": members, "requests": requests, "meetings": meetings,
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


# --- Monthly group grades ---------------------------------------------------------------------------------------


@require_GET
@role_required(*ALL_ROLES)
def group_grades(request):
    latest = GroupGrade.objects.filter(group=OuterRef("pk")).order_by("-month")
    groups = groups_for(request.user).select_related("leader").annotate(
        grade_month=Subquery(latest.values("month")[:1]),
        grade_score=Subquery(latest.values("score")[:1]),
        grade_value=Subquery(latest.values("grade")[:1]),
    )
    grade = request.GET.get("grade", "")
    if grade in GroupGrade.Grade.values:
        groups = groups.filter(grade_value=grade)
    elif grade == "none":
        groups = groups.filter(grade_value__isnull=True)
    counts = {
        row["grade_value"]: row["n"]
        for row in groups_for(request.user)
        .annotate(grade_value=Subquery(latest.values("grade")[:1]))
        .values("grade_value")
        .annotate(n=Count("pk"))
        .order_by()
    }
    page = Paginator(groups.order_by("code"), 50).get_page(request.GET.get("page"))
    labels = dict(GroupGrade.Grade.choices)
    context = {
        "page": page,
        "grade": grade,
        "labels": labels,
        "counts": [(value, label, counts.get(value, 0)) for value, label in GroupGrade.Grade.choices],
        "ungraded": counts.get(None, 0),
    }
    return render(request, "organizations/group_grades.html", context)


@require_GET
@role_required(*ALL_ROLES)
def group_grade_history(request, pk):
    group = get_object_or_404(groups_for(request.user).select_related("leader", "deputy"), pk=pk)
    grades = list(group.grades.order_by("-month")[:36])
    return render(request, "organizations/group_grade_history.html", {"group": group, "grades": grades})
