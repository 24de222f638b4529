"""The organization chart as it stood on a date: which ward branch a group belonged to before a ward merger.

A group's branch on a date is the `from_branch` of its first transfer after that date, or its branch today. Reports
ask `moved_after(on)` first, so that the usual case (no reorganisation since that date) costs nothing more.
"""

from django.db.models import BigIntegerField, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from organizations.models import GroupTransfer, Ward


def moved_after(on):
    """Whether any group changed ward branch after `on`: no query for today or later, since a merger never takes
    effect on a date still to come; one query otherwise."""
    return on < timezone.localdate() and GroupTransfer.objects.filter(moved_on__gt=on).exists()


def _paths(group_path):
    """(path of the group's id, path of its branch today) from a queryset's model ("pk" for groups themselves)."""
    if group_path == "pk":
        return "pk", "branch"
    return group_path, f"{group_path}__branch"


def branch_on(group_path, on, attr=None):
    """Expression: the ward branch (with attr="ward": its ward; "kind": its organization) of the group reached by
    `group_path` as it was on `on`."""
    group, branch = _paths(group_path)
    earlier = GroupTransfer.objects.filter(group=OuterRef(group), moved_on__gt=on).order_by("moved_on", "pk")
    then = "from_branch" if attr is None else f"from_branch__{attr}"
    now = branch if attr is None else f"{branch}__{attr}"
    return Coalesce(Subquery(earlier.values(then)[:1]), F(now), output_field=BigIntegerField())


def ward_filter_on(group_path, on, ward):
    """Q: the group reached by `group_path` was in `ward` on `on`."""
    from organizations.models import SavingsGroup

    group, _branch = _paths(group_path)
    then = SavingsGroup.objects.alias(ward_then=branch_on("pk", on, "ward")).filter(ward_then=ward).values("pk")
    return Q(**{f"{group}__in": then})


def wards_on(on):
    """The wards in being on `on`: not yet merged by then, and formed by then (a ward formed by a merger exists from
    its merger's date)."""
    return Ward.objects.filter(Q(merged_on__isnull=True) | Q(merged_on__gt=on)).exclude(formed_by__merged_on__gt=on)
