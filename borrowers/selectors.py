"""Scoped reads of households."""

from borrowers.models import Household
from organizations.selectors import branch_scope


def households_for(user):
    return Household.objects.filter(branch_scope(user, "branch")).select_related("ward", "branch")
