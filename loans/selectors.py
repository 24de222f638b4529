"""Scoped reads of requests, loans and postings, and the portfolio figures every report starts from."""

from django.db.models import Count, F, Sum

from loans.ledger import with_derived_balances
from loans.models import Loan, LoanApplication, Posting
from organizations.selectors import branch_scope


def loans_for(user):
    return Loan.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def applications_for(user):
    return LoanApplication.objects.filter(branch_scope(user, "household__branch")).select_related(
        "household", "program", "group"
    )


def postings_for(user):
    return Posting.objects.filter(branch_scope(user, "household__branch")).select_related("loan", "household")


def portfolio_by_organization(*, on=None, loans=None):
    """{bank code: {"outstanding", "overdue", "households"}} from the ledger as of `on` (default: everything)."""
    loans = Loan.objects.all() if loans is None else loans
    rows = (
        with_derived_balances(loans, on)
        .filter(derived_outstanding__gt=0)
        .values(kind=F("group__branch__kind"))
        .annotate(
            outstanding=Sum("derived_outstanding"),
            overdue=Sum("derived_overdue"),
            households=Count("household", distinct=True),
        )
        .order_by("kind")
    )
    return {
        row["kind"]: {
            "outstanding": int(row["outstanding"]),
            "overdue": int(row["overdue"]),
            "households": row["households"],
        }
        for row in rows
    }


# ---- the bank's layouts, for export ------------------------------------------------------------------------------


def bank_export_rows(kind, user):
    """Rows in the bank's layout (see loans/resources.py) for what `user` may see; re-importing them changes nothing."""
    from django.db.models import Prefetch

    from borrowers.selectors import households_for
    from loans.resources import KIND_LABELS
    from organizations.models import GroupMembership
    from organizations.selectors import groups_for

    if kind == "loans":
        loans = (
            loans_for(user)
            .select_related("group__branch__ward", "group__leader", "household")
            .order_by("group__branch__ward__code", "group__code", "household__customer_code", "number")
        )
        savings_written = set()
        for seq, loan in enumerate(loans.iterator(chunk_size=5000), start=1):
            household = loan.household
            # The bank's savings column adds up per household: write it once, on the household's first loan.
            savings = 0
            if household.pk not in savings_written:
                savings_written.add(household.pk)
                savings = int(household.savings_balance)
            frozen = loan.principal_outstanding if loan.status == Loan.Status.FROZEN else 0
            yield [
                seq, loan.group.branch.ward.code, loan.group.branch.ward.name, loan.group.branch.kind, loan.group.code,
                loan.group.leader.head_name if loan.group.leader else "",
                household.customer_code or "",
                household.head_name,
                household.citizen_id, loan.program.code, loan.number, loan.disbursed_on, loan.maturity_on,
                int(loan.amount), int(loan.principal_outstanding), int(loan.overdue_principal), int(frozen),
                int(loan.interest_arrears), savings,
            ]
    elif kind == "transactions":
        postings = postings_for(user).exclude(kind=Posting.Kind.REVERSAL).filter(reversed_by__isnull=True)
        for posting in postings.order_by("on", "pk").iterator(chunk_size=5000):
            yield [
                posting.on, posting.voucher or f"UT{posting.pk:010d}", posting.loan.number if posting.loan else "",
                posting.household.customer_code or "", KIND_LABELS[posting.kind], int(posting.amount), posting.note,
            ]
    elif kind == "groups":
        from loans.models import GroupGrade

        groups = groups_for(user).select_related("leader").prefetch_related(
            Prefetch("bank_grades", queryset=GroupGrade.objects.order_by("-on", "-pk"))
        )
        counts = dict(
            GroupMembership.objects.filter(left_on__isnull=True)
            .values("group")
            .annotate(n=Count("pk"))
            .values_list("group", "n")
        )
        grade_labels = {"good": "Tốt", "fair": "Khá", "average": "Trung bình", "weak": "Yếu"}
        for group in groups.order_by("code"):
            grade = next(iter(group.bank_grades.all()), None)
            yield [
                group.code, group.name, group.branch.ward.code, group.branch.kind,
                group.leader.head_name if group.leader else (grade.leader_name if grade else ""),
                counts.get(group.pk, 0),
                grade.score if grade else None,
                grade_labels.get(grade.grade, "") if grade else "",
            ]
    elif kind == "households":
        households = households_for(user).prefetch_related(
            Prefetch(
                "memberships",
                queryset=GroupMembership.objects.filter(left_on__isnull=True).select_related("group"),
            )
        )
        for seq, household in enumerate(households.order_by("ward__code", "search_name"), start=1):
            membership = next(iter(household.memberships.all()), None)
            yield [
                seq, household.customer_code or "", household.head_name, household.citizen_id, household.ward.code,
                household.ward.name, household.branch.kind, membership.group.code if membership else "",
                household.address, household.get_policy_status_display(), int(household.savings_balance),
            ]


def user_can_import(user):
    """Admins, and users given the import permission."""
    from organizations.access import Role, role_of

    return user.is_authenticated and (role_of(user) == Role.ADMIN or user.has_perm("loans.import_bank_files"))


def import_batches_for(user):
    from loans.models import ImportBatch

    return ImportBatch.objects.all() if user_can_import(user) else ImportBatch.objects.none()
