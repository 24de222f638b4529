"""Savings-and-loan groups: founding a group with its members, and editing it."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from borrowers.models import Household
from organizations.errors import DomainError
from organizations.models import GroupMembership, SavingsGroup

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
        from loans.ledger.summaries import refresh_group_balances

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
