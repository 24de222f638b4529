"""Scoped reads of loan changes: 08/TD term adjustments, extensions, freezes and write-offs."""

from loans.models import LoanChange
from organizations.selectors.scope import branch_scope


def changes_for(user):
    return LoanChange.objects.filter(branch_scope(user, "loan__household__branch")).select_related(
        "loan", "loan__household", "loan__program", "instalment", "requested_by", "decided_by"
    )
