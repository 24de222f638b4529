"""Pages about the organization tree. The home page is the dashboard of the user's scope."""

from dataclasses import dataclass  # noqa: E402
from math import ceil

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import PermissionDenied  # noqa: E402
from django.core.paginator import Paginator
from django.db.models import (  # noqa: E402
    BooleanField,
    Case,
    Count,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone  # noqa: E402
from django.utils.translation import gettext_lazy  # noqa: E402
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from loans.forms import ReportScopeForm
from loans.selectors import label_rows, portfolio_report, portfolio_totals, portfolio_trend
from loans.xlsx import xlsx_response  # noqa: E402
from organizations import forms as org_forms  # noqa: E402
from organizations import selectors, services  # noqa: E402
from organizations import services as group_services
from organizations.access import ALL_ROLES, WARD_WORK, Role, has_role, role_required
from organizations.errors import DomainError
from organizations.forms import GroupForm, apply_domain_error, refuse_out_of_scope
from organizations.models import (  # noqa: E402
    Award,
    CooperationAgreement,
    EconomicModel,
    GroupGrade,
    Inspection,
    InspectionFinding,
    Organization,
    OutreachSession,
    SavingsGroup,
    TrainingClass,
)
from organizations.selectors import groups_for, locked_logins, login_events, wards_for, with_group_figures


def _chart(rows, label):
    return {
        "labels": [label(row) for row in rows],
        "outstanding": [row["outstanding"] for row in rows],
        "overdue": [row["overdue"] for row in rows],
    }


@require_GET
@login_required
def home(request):
    """Dashboard: figures, breakdowns by organization, ward and program, and the 12-month trend, for one date."""
    form = ReportScopeForm(request.GET or None, user=request.user)
    on, organization, ward = form.scope()
    scope = {"user": request.user, "on": on, "organization": organization, "ward": ward}
    by_kind = label_rows(portfolio_report(by=("kind",), **scope), ("kind",))
    totals = portfolio_totals(**scope, by_kind=by_kind)
    by_ward = label_rows(portfolio_report(by=("ward",), **scope), ("ward",))
    by_program = label_rows(portfolio_report(by=("program",), **scope), ("program",))
    trend = portfolio_trend(user=request.user, today=on, organization=organization, ward=ward, current=by_kind)
    kinds = dict(Organization.Kind.choices)
    chart_data = {
        "kinds": _chart(by_kind, lambda row: str(row["kind_name"])),
        "wards": _chart(by_ward, lambda row: row["ward_obj"].name if row["ward_obj"] else "?"),
        "programs": _chart(by_program, lambda row: row["program_obj"].code if row["program_obj"] else "?"),
        "trend": {
            "labels": [f"{day:%m/%Y}" for day in trend["days"][:-1]] + [f"{trend['days'][-1]:%d/%m/%Y}"],
            "series": [{"label": str(kinds.get(s["kind"], s["kind"])), **s} for s in trend["series"]],
        },
    }
    return render(
        request,
        "organizations/home.html",
        {
            "form": form,
            "on": on,
            "totals": totals,
            "by_kind": by_kind,
            "by_ward": by_ward,
            "by_program": by_program,
            "chart_data": chart_data,
            "query": request.GET.urlencode(),
        },
    )


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


# --- Supervision work: the Front's and organizations' record of inspections, classes, outreach and more. ----------


SUPERVISION_PAGE_SIZE = 50


@dataclass(frozen=True)
class RecordKind:
    """What differs between the six kinds of supervision record; the list and form pages are shared."""

    slug: str
    model: type
    title: str
    new_label: str
    form_class: type
    read: object  # selector(user) -> queryset
    edit: object  # selector(user) -> queryset of records the user may correct
    save: object  # (actor, form, record) -> record
    date_path: str  # field filtered by the chosen year
    kind_path: str  # field path to the organization kind, for the organization filter

    @property
    def writers(self):
        return services.WRITERS[self.model]

    def can_record(self, user):
        return has_role(user, *self.writers)

    @property
    def list_url_name(self):
        return f"organizations:supervision_{self.slug}"

    @property
    def new_url_name(self):
        return f"organizations:supervision_{self.slug}_new"

    @property
    def edit_url_name(self):
        return f"organizations:supervision_{self.slug}_edit"


def _in_year(kind, year):
    if kind.model is CooperationAgreement:
        # Agreements in force at some point of the year.
        from datetime import date

        start, end = date(year, 1, 1), date(year, 12, 31)
        return (
            Q(signed_on__lte=end)
            & (Q(valid_until__isnull=True) | Q(valid_until__gte=start))
            & (Q(terminated_on__isnull=True) | Q(terminated_on__gte=start))
        )
    return Q(**{f"{kind.date_path}__year": year})


RECORD_KINDS = {
    kind.slug: kind
    for kind in [
        RecordKind(
            slug="inspections",
            model=Inspection,
            title=gettext_lazy("Inspections"),
            new_label=gettext_lazy("Record an inspection"),
            form_class=org_forms.InspectionForm,
            read=selectors.inspections_for,
            edit=selectors.editable_inspections_for,
            save=lambda actor, form, record: services.inspection_record(
                actor=actor, inspection=record, **form.service_kwargs()
            ),
            date_path="inspected_on",
            kind_path="lead_unit__kind",
        ),
        RecordKind(
            slug="training",
            model=TrainingClass,
            title=gettext_lazy("Training classes"),
            new_label=gettext_lazy("Record a training class"),
            form_class=org_forms.TrainingClassForm,
            read=selectors.training_classes_for,
            edit=selectors.training_classes_for,
            save=lambda actor, form, record: services.training_class_record(
                actor=actor, values=form.values(), training_class=record
            ),
            date_path="held_on",
            kind_path="organization__kind",
        ),
        RecordKind(
            slug="outreach",
            model=OutreachSession,
            title=gettext_lazy("Outreach sessions"),
            new_label=gettext_lazy("Record an outreach session"),
            form_class=org_forms.OutreachSessionForm,
            read=selectors.outreach_sessions_for,
            edit=selectors.outreach_sessions_for,
            save=lambda actor, form, record: services.outreach_session_record(
                actor=actor, values=form.values(), session=record
            ),
            date_path="held_on",
            kind_path="organization__kind",
        ),
        RecordKind(
            slug="agreements",
            model=CooperationAgreement,
            title=gettext_lazy("Cooperation agreements"),
            new_label=gettext_lazy("Record an agreement"),
            form_class=org_forms.CooperationAgreementForm,
            read=selectors.agreements_for,
            edit=selectors.agreements_for,
            save=lambda actor, form, record: services.agreement_record(
                actor=actor, values=form.values(), agreement=record
            ),
            date_path="signed_on",
            kind_path="branch__kind",
        ),
        RecordKind(
            slug="models",
            model=EconomicModel,
            title=gettext_lazy("Economic models"),
            new_label=gettext_lazy("Record an economic model"),
            form_class=org_forms.EconomicModelForm,
            read=selectors.economic_models_for,
            edit=selectors.economic_models_for,
            save=lambda actor, form, record: services.economic_model_record(
                actor=actor, values=form.values(), households=form.cleaned_data["households"], model=record
            ),
            date_path="started_on",
            kind_path="organization__kind",
        ),
        RecordKind(
            slug="awards",
            model=Award,
            title=gettext_lazy("Awards"),
            new_label=gettext_lazy("Record an award"),
            form_class=org_forms.AwardForm,
            read=selectors.awards_for,
            edit=selectors.awards_for,
            save=lambda actor, form, record: services.award_record(actor=actor, values=form.values(), award=record),
            date_path="awarded_on",
            kind_path="organization__kind",
        ),
    ]
}


OPEN_FOLLOW_UPS = [Inspection.FollowUp.OPEN, Inspection.FollowUp.IN_PROGRESS]


def _list_queryset(kind, user, today):
    qs = kind.read(user)
    if kind.model is Inspection:
        qs = qs.annotate(
            checked=Count("findings"),
            not_ok=Count("findings", filter=Q(findings__result=InspectionFinding.Result.NOT_OK)),
            overdue=Case(
                When(follow_up_status__in=OPEN_FOLLOW_UPS, follow_up_deadline__lt=today, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
    elif kind.model is EconomicModel:
        qs = qs.annotate(household_count=Count("households"))
    # Aggregating queries drop Meta.ordering; keep the model's order for stable pages.
    return qs.order_by(*kind.model._meta.ordering)


@require_GET
@role_required(*ALL_ROLES)
def supervision_list(request, kind):
    kind = RECORD_KINDS[kind]
    filters = org_forms.SupervisionFilterForm(request.GET or None)
    year, org = filters.selected()
    today = timezone.localdate()
    qs = _list_queryset(kind, request.user, today).filter(_in_year(kind, year))
    if org:
        qs = qs.filter(**{kind.kind_path: org})
    overdue_only = kind.model is Inspection and request.GET.get("overdue") == "1"
    if overdue_only:
        qs = qs.filter(follow_up_status__in=OPEN_FOLLOW_UPS, follow_up_deadline__lt=today)
    page = Paginator(qs, SUPERVISION_PAGE_SIZE).get_page(request.GET.get("page"))
    editable = set()
    if kind.can_record(request.user):
        editable = set(kind.edit(request.user).filter(pk__in=[r.pk for r in page]).values_list("pk", flat=True))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "organizations/supervision/list.html",
        {
            "kind": kind,
            "kinds": RECORD_KINDS.values(),
            "filters": filters,
            "year": year,
            "org": org,
            "page": page,
            "records": page.object_list,
            "editable": editable,
            "today": today,
            "overdue_only": overdue_only,
            "show_overdue": kind.model is Inspection,
            "query": query.urlencode(),
            "can_record": kind.can_record(request.user),
            "table_template": f"organizations/supervision/{kind.slug}_table.html",
        },
    )


def _form_page(request, kind, record):
    form_kwargs = {"user": request.user, "instance": record}
    if request.method == "POST":
        form = kind.form_class(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                saved = kind.save(request.user, form, record)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Saved: %(record)s.") % {"record": saved})
                if kind.model is Inspection:
                    return redirect("organizations:inspection_detail", pk=saved.pk)
                return redirect(kind.list_url_name)
    else:
        initial = {}
        if record is None:
            initial = _initial_for_new(kind, request.user)
        form = kind.form_class(initial=initial, **form_kwargs) if initial else kind.form_class(**form_kwargs)
    return render(
        request,
        "organizations/supervision/form.html",
        {"kind": kind, "kinds": RECORD_KINDS.values(), "form": form, "record": record},
    )


def _initial_for_new(kind, user):
    today = timezone.localdate()
    field = {Inspection: "inspected_on", CooperationAgreement: "signed_on"}.get(kind.model, kind.date_path)
    initial = {field: today}
    profile = getattr(user, "officer", None)
    if profile is not None and kind.model is not CooperationAgreement:
        initial["lead_unit" if kind.model is Inspection else "organization"] = profile.organization_id
    return initial


@require_http_methods(["GET", "POST"])
@role_required(*ALL_ROLES)
def supervision_create(request, kind):
    kind = RECORD_KINDS[kind]
    if not kind.can_record(request.user):
        raise PermissionDenied
    return _form_page(request, kind, None)


@require_http_methods(["GET", "POST"])
@role_required(*ALL_ROLES)
def supervision_edit(request, kind, pk):
    kind = RECORD_KINDS[kind]
    if not kind.can_record(request.user):
        raise PermissionDenied
    record = get_object_or_404(kind.edit(request.user), pk=pk)
    return _form_page(request, kind, record)


@require_GET
@role_required(*ALL_ROLES)
def inspection_detail(request, pk):
    inspection = get_object_or_404(selectors.inspections_for(request.user), pk=pk)
    findings = inspection.findings.select_related("item")
    kind = RECORD_KINDS["inspections"]
    can_edit = kind.can_record(request.user) and kind.edit(request.user).filter(pk=pk).exists()
    return render(
        request,
        "organizations/supervision/inspection_detail.html",
        {
            "inspection": inspection,
            "findings": findings,
            "can_edit": can_edit,
            "kind": kind,
            "kinds": RECORD_KINDS.values(),
            "overdue": inspection.is_overdue(),
        },
    )


def _summary(request):
    filters = org_forms.SupervisionFilterForm(request.GET or None)
    year, org = filters.selected()
    rows, totals = selectors.supervision_summary(request.user, year, kind=org or None)
    return filters, year, org, rows, totals


@require_GET
@role_required(*ALL_ROLES)
def supervision_summary(request):
    filters, year, org, rows, totals = _summary(request)
    return render(
        request,
        "organizations/supervision/summary.html",
        {
            "filters": filters,
            "year": year,
            "org": org,
            "rows": rows,
            "totals": totals,
            "kinds": RECORD_KINDS.values(),
            "query": request.GET.urlencode(),
        },
    )


SUMMARY_COLUMNS = [
    ("inspections", gettext_lazy("Inspections led")),
    ("groups_inspected", gettext_lazy("Groups inspected")),
    ("follow_ups_overdue", gettext_lazy("Follow-ups overdue")),
    ("classes", gettext_lazy("Training classes")),
    ("participants", gettext_lazy("Participants")),
    ("attendances", gettext_lazy("Attendances")),
    ("outreach", gettext_lazy("Outreach sessions")),
    ("audience", gettext_lazy("People reached")),
    ("wards_with_agreement", gettext_lazy("Wards with an agreement")),
    ("wards", gettext_lazy("Wards with a branch")),
    ("models", gettext_lazy("Economic models started")),
    ("model_households", gettext_lazy("Households in the models")),
    ("awards", gettext_lazy("Awards")),
]


@require_GET
@role_required(*ALL_ROLES)
def supervision_summary_xlsx(request):
    _filters, year, _org, rows, totals = _summary(request)
    keys = [key for key, _label in SUMMARY_COLUMNS]
    return xlsx_response(
        f"giam-sat-{year}.xlsx",
        title_lines=[
            _("Supervision work of the Front and the member organizations"),
            _("Year %(year)s") % {"year": year},
            _("Printed on %(date)s") % {"date": timezone.localdate().strftime("%d/%m/%Y")},
        ],
        headers=[_("Organization"), *[label for _key, label in SUMMARY_COLUMNS]],
        rows=[[str(row["name"]), *[row[key] for key in keys]] for row in rows],
        total_row=[_("Total"), *[totals[key] for key in keys]],
        sheet_title=_("Supervision %(year)s") % {"year": year},
    )
