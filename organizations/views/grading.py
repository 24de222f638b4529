"""Monthly group grades: the grade list and one group's grade history."""


from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from organizations.access import ALL_ROLES, role_required
from organizations.models import GroupGrade
from organizations.selectors.scope import groups_for


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
