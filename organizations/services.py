"""Writes about the organization tree.

Savings-and-loan groups: founding a group with its members, and editing it. The supervision record: inspections with
16/TD findings, classes, outreach, agreements, economic models and awards; each of those checks that the actor may
record for the unit it names, so a command or a crafted form cannot write outside the actor's scope.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from organizations.access import SUPERVISION_WORK, Role, has_role
from organizations.errors import DomainError
from organizations.models import (
    Award,
    CooperationAgreement,
    EconomicModel,
    GroupMembership,
    Inspection,
    InspectionFinding,
    Organization,
    OutreachSession,
    SavingsGroup,
    TrainingClass,
)
from organizations.selectors import branches_for, groups_for, recording_units_for

GROUP_FIELDS = ("name", "neighbourhood", "status", "founded_on")


def _check_leaders(*, leader, deputy, member_ids):
    if leader is not None and leader.pk not in member_ids:
        raise DomainError(_("The leader must be a member of the group."), field="leader")
    if deputy is not None and deputy.pk not in member_ids:
        raise DomainError(_("The deputy must be a member of the group."), field="deputy")
    if leader is not None and deputy is not None and leader.pk == deputy.pk:
        raise DomainError(_("The leader and the deputy must be two different members."), field="deputy")


def _check_size(*, status, count):
    if status == SavingsGroup.Status.ACTIVE and not SavingsGroup.MIN_MEMBERS <= count <= SavingsGroup.MAX_MEMBERS:
        raise DomainError(
            _("An active group has between %(min)s and %(max)s member households; this one would have %(count)s.")
            % {"min": SavingsGroup.MIN_MEMBERS, "max": SavingsGroup.MAX_MEMBERS, "count": count},
            field="members" if count < SavingsGroup.MIN_MEMBERS else None,
        )


def _check_neighbourhood(*, neighbourhood, branch):
    if neighbourhood is not None and neighbourhood.ward_id != branch.ward_id:
        raise DomainError(_("The neighbourhood must be in the branch's ward."), field="neighbourhood")


@transaction.atomic
def group_create(*, data, actor):
    """Found a group of one ward branch with its first members; members already in a group move over, with history."""
    branch = data["branch"]
    if SavingsGroup.objects.filter(code=data["code"]).exists():
        raise DomainError(_("Group code %(code)s is already used.") % {"code": data["code"]}, field="code")
    members = list(Household.objects.select_for_update().filter(pk__in=[h.pk for h in data.get("members", [])]))
    if any(h.branch_id != branch.pk for h in members):
        raise DomainError(_("Members must be households of the group's ward branch."), field="members")
    status = data.get("status") or SavingsGroup.Status.ACTIVE
    _check_size(status=status, count=len(members))
    _check_leaders(leader=data.get("leader"), deputy=data.get("deputy"), member_ids={h.pk for h in members})
    _check_neighbourhood(neighbourhood=data.get("neighbourhood"), branch=branch)
    joined_on = data.get("founded_on") or timezone.localdate()
    if joined_on > timezone.localdate():
        raise DomainError(_("The founding date cannot be in the future."), field="founded_on")
    group = SavingsGroup(code=data["code"], branch=branch, leader=data.get("leader"), deputy=data.get("deputy"))
    for field in GROUP_FIELDS:
        if field in data:
            setattr(group, field, data[field])
    group.status = status
    group.save()
    current = {
        m.household_id: m
        for m in GroupMembership.objects.select_for_update()
        .select_related("group")
        .filter(household__in=members, left_on__isnull=True)
    }
    for household in members:
        old = current.get(household.pk)
        if old is not None:
            if household.pk in (old.group.leader_id, old.group.deputy_id):
                raise DomainError(
                    _("%(name)s leads group %(group)s; appoint someone else there first.")
                    % {"name": household.head_name, "group": old.group.code},
                    field="members",
                )
            if joined_on < old.joined_on:
                raise DomainError(
                    _("%(name)s joined group %(group)s on %(date)s, after this group's founding date.")
                    % {"name": household.head_name, "group": old.group.code,
                       "date": old.joined_on.strftime("%d/%m/%Y")},
                    field="founded_on",
                )
            old.left_on = joined_on
            old.save(update_fields=["left_on"])
        GroupMembership.objects.create(group=group, household=household, joined_on=joined_on)
    if current:
        # Savings follow the households to the new group, today and in the snapshots of past dates.
        from loans.ledger import refresh_group_balances

        refresh_group_balances([group.pk, *{m.group_id for m in current.values()}])
    return group


@transaction.atomic
def group_update(*, group, data, actor):
    """Rename, re-grade the status or appoint leader and deputy. Members change through `household_move`."""
    group = SavingsGroup.objects.select_for_update().select_related("branch").get(pk=group.pk)
    for field in GROUP_FIELDS:
        if field in data:
            setattr(group, field, data[field])
    if "leader" in data:
        group.leader = data["leader"]
    if "deputy" in data:
        group.deputy = data["deputy"]
    member_ids = set(group.memberships.filter(left_on__isnull=True).values_list("household_id", flat=True))
    _check_size(status=group.status, count=len(member_ids))
    _check_leaders(leader=group.leader, deputy=group.deputy, member_ids=member_ids)
    _check_neighbourhood(neighbourhood=group.neighbourhood, branch=group.branch)
    group.save()
    return group


# --- Supervision work ---

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
        field, messages = next(iter(error.message_dict.items()))
        raise DomainError(messages[0], field=None if field == NON_FIELD_ERRORS else field) from error
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
