"""The supervision record: inspections with 16/TD findings, classes, outreach, agreements, economic models and
awards; each checks that the actor may record for the unit it names, so a command or a crafted form cannot write
outside the actor's scope."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from organizations.access import SUPERVISION_WORK, Role, has_role
from organizations.errors import DomainError
from organizations.models import (
    Award,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    Organization,
    OutreachSession,
    SavingsGroup,
    TrainingClass,
)
from organizations.selectors.scope import branches_for, groups_for
from organizations.selectors.supervision import recording_units_for
from organizations.validation import domain_error_from

#: Who records what. The Front supervisor reads everything but records only inspections.
RECORD_WORK = (Role.DISTRICT_STAFF, Role.WARD_OFFICER, Role.ADMIN)
DISTRICT_RECORDS = (Role.DISTRICT_STAFF, Role.ADMIN)
WRITERS = {
    Inspection: SUPERVISION_WORK,
    TrainingClass: RECORD_WORK,
    OutreachSession: RECORD_WORK,
    CooperationAgreement: DISTRICT_RECORDS,
    EconomicModel: DISTRICT_RECORDS,
    Award: DISTRICT_RECORDS,
}


def _require_writer(actor, model):
    if not has_role(actor, *WRITERS[model]):
        raise DomainError(_("You may not record %(what)s.") % {"what": model._meta.verbose_name_plural})


def _require_unit(actor, unit, field="organization"):
    if unit is None or not recording_units_for(actor).filter(pk=unit.pk).exists():
        raise DomainError(_("This unit is outside your scope."), field=field)


def _locked(record):
    return type(record).objects.select_for_update().get(pk=record.pk)


def _save(record, actor, values, *, m2m=None):
    """Set values, validate with the model's own rules, save; a database refusal becomes a DomainError."""
    for name, value in values.items():
        setattr(record, name, value)
    if record.pk is None:
        record.recorded_by = actor
    try:
        record.full_clean(exclude=["recorded_by"])
    except ValidationError as error:
        raise domain_error_from(error, type(record)) from error
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as error:
        raise DomainError(_("The record contradicts another one; nothing was saved.")) from error
    for name, objects in (m2m or {}).items():
        getattr(record, name).set(objects)
    return record


@transaction.atomic
def inspection_record(
    *,
    actor,
    inspected_on,
    lead_unit: Organization,
    team_members: str,
    inspected_branch: Organization | None,
    inspected_group: SavingsGroup | None,
    findings: list[tuple],
    recommendations: str = "",
    follow_up_status: str = Inspection.FollowUp.OPEN,
    follow_up_deadline=None,
    inspection: Inspection | None = None,
) -> Inspection:
    """Record (or correct) an inspection. `findings` is a list of (ChecklistItem, result, note)."""
    _require_writer(actor, Inspection)
    _require_unit(actor, lead_unit, "lead_unit")
    if (inspected_branch is None) == (inspected_group is None):
        raise DomainError(_("Choose either a ward branch or a group to inspect, not both."), field="inspected_group")
    if inspected_group is not None and not groups_for(actor).filter(pk=inspected_group.pk).exists():
        raise DomainError(_("This group is outside your scope."), field="inspected_group")
    if inspected_branch is not None and not branches_for(actor).filter(pk=inspected_branch.pk).exists():
        raise DomainError(_("This ward branch is outside your scope."), field="inspected_branch")
    if not findings:
        raise DomainError(_("Record the result of at least one checklist item."))
    for item, result, note in findings:
        if result == InspectionFinding.Result.NOT_OK and not note.strip():
            raise DomainError(_("Explain what is wrong with “%(item)s”.") % {"item": item.label})
    if any(result == InspectionFinding.Result.NOT_OK for _item, result, _note in findings):
        if not recommendations.strip():
            raise DomainError(
                _("Some items are not satisfactory: write the recommendations."), field="recommendations"
            )
        if follow_up_status != Inspection.FollowUp.DONE and follow_up_deadline is None:
            raise DomainError(_("Give a deadline for the follow-up."), field="follow_up_deadline")
    if follow_up_deadline is not None and follow_up_deadline < inspected_on:
        raise DomainError(_("The follow-up deadline cannot be before the inspection."), field="follow_up_deadline")
    record = _locked(inspection) if inspection is not None else Inspection()
    _save(
        record,
        actor,
        {
            "inspected_on": inspected_on,
            "lead_unit": lead_unit,
            "team_members": team_members,
            "inspected_branch": inspected_branch,
            "inspected_group": inspected_group,
            "recommendations": recommendations,
            "follow_up_status": follow_up_status,
            "follow_up_deadline": follow_up_deadline,
        },
    )
    record.findings.all().delete()
    rows = []
    for item, result, note in findings:
        rows.append(InspectionFinding(inspection=record, item=item, result=result, note=note.strip()))
    InspectionFinding.objects.bulk_create(rows)
    return record


@transaction.atomic
def training_class_record(*, actor, values: dict, training_class: TrainingClass | None = None) -> TrainingClass:
    """values: held_on, topic, organization, participants, attendances."""
    _require_writer(actor, TrainingClass)
    _require_unit(actor, values.get("organization"))
    if values["attendances"] < values["participants"]:
        raise DomainError(_("Attendances cannot be fewer than participants."), field="attendances")
    record = _locked(training_class) if training_class is not None else TrainingClass()
    return _save(record, actor, values)


@transaction.atomic
def outreach_session_record(*, actor, values: dict, session: OutreachSession | None = None) -> OutreachSession:
    """values: held_on, topic, organization, place, audience."""
    _require_writer(actor, OutreachSession)
    _require_unit(actor, values.get("organization"))
    record = _locked(session) if session is not None else OutreachSession()
    return _save(record, actor, values)


@transaction.atomic
def agreement_record(
    *, actor, values: dict, agreement: CooperationAgreement | None = None
) -> CooperationAgreement:
    """values: branch, reference, signed_on, valid_until, terminated_on, note. One agreement in force per branch."""
    _require_writer(actor, CooperationAgreement)
    branch = values.get("branch")
    if branch is None or not branches_for(actor).filter(pk=branch.pk).exists():
        raise DomainError(_("This ward branch is outside your scope."), field="branch")
    # Lock the branch so two officers cannot both register its agreement in force.
    Organization.objects.select_for_update().get(pk=branch.pk)
    if values.get("terminated_on") is None:
        current = CooperationAgreement.objects.filter(branch=branch, terminated_on__isnull=True)
        if agreement is not None:
            current = current.exclude(pk=agreement.pk)
        other = current.first()
        if other is not None:
            raise DomainError(
                _(
                    "%(branch)s already has agreement %(reference)s in force. "
                    "Enter its termination date before recording a new one."
                )
                % {"branch": branch, "reference": other.reference},
                field="branch",
            )
    record = _locked(agreement) if agreement is not None else CooperationAgreement()
    return _save(record, actor, values)


@transaction.atomic
def economic_model_record(*, actor, values: dict, households, model: EconomicModel | None = None) -> EconomicModel:
    """values: name, organization, description, started_on. Households must be looked after by that unit."""
    _require_writer(actor, EconomicModel)
    unit = values.get("organization")
    _require_unit(actor, unit)
    households = list(households)
    branch_ids = {unit.pk} if unit.is_branch else set(unit.branches.values_list("pk", flat=True))
    if unit.kind == Organization.Kind.FRONT and not unit.is_branch:
        branch_ids = None  # the district Front works with households of every organization
    outside = [h for h in households if branch_ids is not None and h.branch_id not in branch_ids]
    if outside:
        raise DomainError(
            _("%(name)s is not looked after by %(unit)s.") % {"name": outside[0].head_name, "unit": unit},
            field="households",
        )
    record = _locked(model) if model is not None else EconomicModel()
    return _save(record, actor, values, m2m={"households": households})


@transaction.atomic
def award_record(*, actor, values: dict, award: Award | None = None) -> Award:
    """values: awarded_on, organization, person_name, level, title, reason."""
    _require_writer(actor, Award)
    _require_unit(actor, values.get("organization"))
    if not str(values.get("reason", "")).strip():
        raise DomainError(_("Give the reason for the award."), field="reason")
    record = _locked(award) if award is not None else Award()
    return _save(record, actor, values)
