"""Ward mergers: "wards A, B, C form ward N on date D", checked, previewed and carried out in one transaction.

Each organization's branches in the old wards become one branch of the new ward. Groups, households,
neighbourhoods, officers and the capital allocations move to it with their history; the loans, requests and
collection schedules follow their groups, and the bank's codes of groups, customers and loans stay as they are.
Nothing is deleted: the old wards and branches remain, with `merged_into` and `merged_on`, and each group's branch
before the merger is kept (GroupTransfer), so that figures as of an earlier date still show the old wards.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from borrowers.models import Household
from organizations.audit import audit_bulk, audit_context
from organizations.errors import DomainError
from organizations.models import (
    GroupTransfer,
    Neighbourhood,
    OfficerProfile,
    Organization,
    SavingsGroup,
    Ward,
    WardMerger,
    ward_code_validator,
)
from organizations.policy import authorize, person


@dataclass
class MergerPlan:
    """What a merger would do, and why it cannot (problems), before anything is written."""

    sources: list
    code: str
    name: str
    merged_on: object
    decision: str = ""
    problems: list = field(default_factory=list)
    branches: list = field(default_factory=list)  # (kind label, [old branch names], new branch name)
    counts: dict = field(default_factory=dict)
    draft_sheets: list = field(default_factory=list)  # half-entered 13/TD sheets that block it, to open and finish

    @property
    def can_apply(self):
        return not self.problems


def _day(value):
    return date_format(value, "d/m/Y")


def _branch_name(old_branches, kind, ward_name):
    """The new branch's name after its predecessors' pattern ("Hội Phụ nữ phường X" → "… phường N")."""
    for branch in old_branches:
        if branch.ward.name and branch.ward.name in branch.name:
            return branch.name.replace(branch.ward.name, ward_name)[:200]
    return f"{Organization.Kind(kind).label} – {ward_name}"[:200]


def _branches_by_kind(wards):
    """{organization kind: its ward branches in `wards`}, in ward-code order."""
    by_kind = {}
    branches = Organization.objects.filter(level=Organization.Level.WARD, ward__in=wards).select_related("ward")
    for branch in branches.order_by("kind", "ward__code"):
        by_kind.setdefault(branch.kind, []).append(branch)
    return by_kind


def _problems(plan, today):
    from loans.models import CapitalAllocation, CollectionSheet

    problems = []
    sources, code, name = plan.sources, plan.code, plan.name
    if not sources:
        problems.append(_("Choose the wards that form the new ward."))
    listed = Counter(ward.pk for ward in sources)
    for ward in {ward.pk: ward for ward in sources if listed[ward.pk] > 1}.values():
        problems.append(_("%(ward)s is listed more than once among the wards that merge.") % {"ward": ward.name})
    if len(listed) == 1 and sources[0].code == code:
        # One ward "forming" a ward with its own code would only chain it to a copy of itself.
        problems.append(_("%(ward)s cannot be merged into itself: choose the wards it merges with, or give the new "
                          "ward a code of its own.") % {"ward": sources[0].name})
    for ward in sources:
        if not ward.is_active:
            problems.append(
                _("%(ward)s was already merged into %(into)s on %(date)s.")
                % {"ward": ward.name, "into": ward.merged_into.name if ward.merged_into else "?",
                   "date": _day(ward.merged_on)}
            )
    if len({ward.area_id for ward in sources}) > 1:
        problems.append(_("The wards belong to different areas; a merger joins wards of one area."))
    if not name:
        problems.append(_("Give the new ward's name."))
    try:
        ward_code_validator(code)
    except ValidationError as error:
        problems.extend(error.messages)
    else:
        taken = Ward.objects.filter(code=code, merged_on__isnull=True).exclude(pk__in=[w.pk for w in sources]).first()
        if taken:
            problems.append(_("The code %(code)s belongs to %(ward)s, which stays in being.") % {"code": code,
                                                                                                  "ward": taken.name})
        else:
            # A merged ward's code may be taken over only by its own successor: the bank's files still name it.
            for old in Ward.objects.filter(code=code, merged_on__isnull=False).exclude(pk__in=list(listed)):
                successor = old.successor()
                if successor.pk not in listed:
                    problems.append(
                        _("The code %(code)s was the code of %(ward)s, now part of %(into)s, which is not in this "
                          "merger: give the new ward another code.")
                        % {"code": code, "ward": old.name, "into": successor.name}
                    )
                    break
    if plan.merged_on is None:
        problems.append(_("Give the date the merger takes effect."))
    elif plan.merged_on > today:
        problems.append(
            _("The merger takes effect on %(date)s, which is still to come: carry it out on or after that day, "
              "so that nothing recorded before then is counted in the new ward.") % {"date": _day(plan.merged_on)}
        )
    else:
        later = GroupTransfer.objects.filter(group__branch__ward__in=sources, moved_on__gte=plan.merged_on).first()
        if later:
            problems.append(_("Groups of these wards already moved on %(date)s; a merger cannot come before that.")
                            % {"date": _day(later.moved_on)})
    plan.draft_sheets = list(
        CollectionSheet.objects.filter(group__branch__ward__in=sources, status=CollectionSheet.Status.DRAFT)
        .select_related("group")[:5]
    )
    for sheet in plan.draft_sheets:
        problems.append(
            _("The collection sheet of %(group)s for %(date)s is half entered: post it or delete it first.")
            % {"group": sheet.group, "date": _day(sheet.collection_on)}
        )
    pending = CapitalAllocation.objects.filter(branch__ward__in=sources, status=CapitalAllocation.Status.PROPOSED)
    for allocation in pending.select_related("branch", "plan__program")[:5]:
        problems.append(
            _("The capital proposal of %(branch)s for %(program)s %(year)s is not decided yet: decide it first.")
            % {"branch": allocation.branch, "program": allocation.plan.program.code, "year": allocation.plan.year}
        )
    return problems


def merger_plan(*, sources, code, name, merged_on, decision="", today=None):
    """Check a merger and count what it would move, without writing anything."""
    from loans.models import CapitalAllocation, Loan, LoanApplication

    sources = sorted(sources, key=lambda ward: ward.code)
    plan = MergerPlan(sources=sources, code=(code or "").strip(), name=(name or "").strip(), merged_on=merged_on,
                      decision=(decision or "").strip())
    plan.problems = _problems(plan, today or timezone.localdate())
    old = Organization.objects.filter(level=Organization.Level.WARD, ward__in=sources)
    by_kind = _branches_by_kind(sources)
    plan.branches = [
        (Organization.Kind(kind).label, [b.name for b in branches], _branch_name(branches, kind, plan.name))
        for kind, branches in by_kind.items()
    ]
    plan.counts = {
        "groups": SavingsGroup.objects.filter(branch__in=old).count(),
        "households": Household.objects.filter(ward__in=sources).count(),
        "neighbourhoods": Neighbourhood.objects.filter(ward__in=sources).count(),
        "loans": Loan.objects.filter(group__branch__in=old).count(),
        "open_requests": LoanApplication.objects.filter(
            group__branch__in=old, status__in=LoanApplication.OPEN_STATUSES
        ).count(),
        "allocations": CapitalAllocation.objects.filter(
            branch__in=old, status=CapitalAllocation.Status.APPROVED
        ).count(),
        "officers": OfficerProfile.objects.filter(organization__in=old).count(),
    }
    return plan


@transaction.atomic
def wards_merge(*, sources, code, name, merged_on, actor, decision="", today=None):
    """Carry out a merger: all of it or nothing. Refused (DomainError) with every reason it cannot apply.

    `actor`: an admin, or SYSTEM for `manage.py merge_wards`."""
    from loans.ledger.summaries import refresh_branch_totals, refresh_monthly_balances
    from loans.services.capital import allocations_carry_into

    authorize(actor, "ward.merge")
    actor = person(actor)
    today = today or timezone.localdate()
    # Re-read under lock, keeping the list as given so that a ward listed twice is refused, not quietly merged.
    locked = Ward.objects.select_for_update().in_bulk([ward.pk for ward in sources])
    sources = [locked[ward.pk] for ward in sources if ward.pk in locked]
    plan = merger_plan(sources=sources, code=code, name=name, merged_on=merged_on, decision=decision, today=today)
    if not plan.can_apply:
        raise DomainError(" ".join(str(problem) for problem in plan.problems))
    source_ids = [ward.pk for ward in plan.sources]
    # The old wards leave being first, so that the new one may take over one of their codes.
    Ward.objects.filter(pk__in=source_ids).update(merged_on=merged_on)
    ward = Ward.objects.create(area=plan.sources[0].area, code=plan.code, name=plan.name)
    Ward.objects.filter(pk__in=source_ids).update(merged_into=ward)
    merger = WardMerger.objects.create(ward=ward, merged_on=merged_on, decision=plan.decision, carried_out_by=actor,
                                       summary={**plan.counts, "wards": [w.code for w in plan.sources]})
    note = _("Ward merger %(decision)s: %(wards)s form %(ward)s from %(date)s") % {
        "decision": plan.decision, "wards": ", ".join(w.name for w in plan.sources), "ward": ward.name,
        "date": _day(merged_on),
    }
    moved = {model: [] for model in (Organization, OfficerProfile, SavingsGroup, Household)}
    for kind, branches in _branches_by_kind(source_ids).items():
        new = Organization.objects.create(
            area=ward.area, kind=kind, level=Organization.Level.WARD, ward=ward, parent_id=branches[0].parent_id,
            name=_branch_name(branches, kind, ward.name),
        )
        ids = [branch.pk for branch in branches]
        groups = list(SavingsGroup.objects.filter(branch__in=ids).values_list("pk", "branch_id"))
        GroupTransfer.objects.bulk_create(
            GroupTransfer(group_id=group, from_branch_id=branch, to_branch=new, moved_on=merged_on, merger=merger)
            for group, branch in groups
        )
        moved[SavingsGroup] += [group for group, _branch in groups]
        moved[Household] += Household.objects.filter(branch__in=ids).values_list("pk", flat=True)
        moved[OfficerProfile] += OfficerProfile.objects.filter(organization__in=ids).values_list("pk", flat=True)
        moved[Organization] += ids
        SavingsGroup.objects.filter(branch__in=ids).update(branch=new)
        Household.objects.filter(branch__in=ids).update(branch=new)
        OfficerProfile.objects.filter(organization__in=ids).update(organization=new)
        allocations_carry_into(branches=ids, into=new, note=note, actor=actor)
        Organization.objects.filter(pk__in=ids).update(merged_into=new, merged_on=merged_on)
    households = list(Household.objects.filter(ward__in=source_ids).values_list("pk", flat=True))
    Household.objects.filter(pk__in=households).update(ward=ward)
    moved[Household] = sorted({*moved[Household], *households})
    moved[Neighbourhood] = list(Neighbourhood.objects.filter(ward__in=source_ids).values_list("pk", flat=True))
    # Each keeps the ward it came from: "Khu phố 1" of two old wards must still be told apart in the new one.
    Neighbourhood.objects.filter(pk__in=moved[Neighbourhood]).update(ward=ward, former_ward=F("ward"))
    moved[Ward] = source_ids
    # Bulk updates send no signals: one row per kind of object moved, each with the merger's note, so that the
    # audit trail lists every move under the merger and by whom it was carried out.
    with audit_context(actor=actor):
        for model, ids in moved.items():
            if ids:
                audit_bulk(model, action="bulk_update", ids=ids, note=note)
    # The per-branch totals and the 12-month trend are kept per branch today: rebuilt, they show the new ward's
    # history as one (the trend after the branch snapshots it may be read from).
    refresh_branch_totals([*moved[Organization], *Organization.objects.filter(ward=ward).values_list("pk", flat=True)])
    refresh_monthly_balances(today)
    return merger
