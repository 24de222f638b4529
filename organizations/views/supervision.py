"""Supervision work: the Front's and organizations' record of inspections, classes, outreach and more."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, Case, Count, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from loans.xlsx import xlsx_response
from organizations import forms as org_forms
from organizations.access import ALL_ROLES, has_role, role_required
from organizations.errors import DomainError
from organizations.models import (
    Award,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    OutreachSession,
    TrainingClass,
)
from organizations.selectors import supervision as selectors
from organizations.selectors.scope import wards_for
from organizations.services import supervision as services

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
    wards = wards_for(request.user) if kind.model is Inspection else None
    filters = org_forms.SupervisionFilterForm(request.GET or None, wards=wards)
    year, org = filters.selected()
    today = timezone.localdate()
    qs = _list_queryset(kind, request.user, today).filter(_in_year(kind, year))
    if org:
        qs = qs.filter(**{kind.kind_path: org})
    ward = filters.selected_ward() if wards is not None else None
    if ward is not None:
        qs = selectors.inspections_of_ward(qs, ward)
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
