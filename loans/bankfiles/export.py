"""Rows of the bank's layouts for export, within what the user may see."""

from django.db.models import Count

from loans.models import Loan, Posting
from loans.selectors.loans import loans_for, postings_for
from organizations.models import GroupMembership


def _transactions_for(user):
    return postings_for(user).exclude(kind=Posting.Kind.REVERSAL).filter(reversed_by__isnull=True)


def bank_export_count(kind, user):
    """How many rows `bank_export_rows(kind, user)` yields: one count query, to decide where the file is built."""
    from borrowers.selectors import households_for
    from organizations.selectors.scope import groups_for

    queryset = {
        "loans": lambda: loans_for(user),
        "transactions": lambda: _transactions_for(user),
        "groups": lambda: groups_for(user),
        "households": lambda: households_for(user),
    }[kind]()
    return queryset.order_by().count()


def bank_export_rows(kind, user):
    """Rows in the bank's layout (see layouts.py) for what `user` may see; re-importing them changes nothing.

    Citizen IDs follow the one masking policy (organizations.access.personal). The bank's "Số CCCD" column wants the
    full 12 digits, but only in the file that goes to the bank, and that file is made by an admin (the web export, or
    `manage.py export_bank`, which runs as the first superuser unless told otherwise), who sees the full number. The
    same layout exported by district staff or the Front is for reading and stays masked; the importer refuses it."""
    from django.db.models import Prefetch

    from borrowers.selectors import households_for
    from loans.bankfiles.layouts import KIND_LABELS
    from organizations.access import personal
    from organizations.selectors.scope import groups_for

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
                personal(household.citizen_id, user), loan.program.code, loan.number, loan.disbursed_on, loan.maturity_on,
                int(loan.amount), int(loan.principal_outstanding), int(loan.overdue_principal), int(frozen),
                int(loan.interest_arrears), savings,
            ]
    elif kind == "transactions":
        for posting in _transactions_for(user).order_by("on", "pk").iterator(chunk_size=5000):
            yield [
                posting.on, posting.voucher or f"UT{posting.pk:010d}", posting.loan.number if posting.loan else "",
                posting.household.customer_code or "", KIND_LABELS[posting.kind], int(posting.amount), posting.note,
            ]
    elif kind == "groups":
        from loans.models import BankGroupGrade

        groups = groups_for(user).select_related("leader").prefetch_related(
            Prefetch("bank_grades", queryset=BankGroupGrade.objects.order_by("-on", "-pk"))
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
                seq, household.customer_code or "", household.head_name, personal(household.citizen_id, user),
                household.ward.code,
                household.ward.name, household.branch.kind, membership.group.code if membership else "",
                household.address, household.get_policy_status_display(), int(household.savings_balance),
            ]
