"""The loans' decisions in the inbox (organizations/inbox.py): 03/TD lists, capital, loan changes, reversals and the
bank's files, each scoped by the selector its decision page uses."""

from django.db.models import Q, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from organizations.inbox import Item, Kind, register


def _loan_lists(user):
    from loans.models import LoanList
    from loans.selectors.requests import loan_lists_for

    return loan_lists_for(user).filter(status=LoanList.Status.SUBMITTED).exclude(submitted_by=user)


def _loan_list_rows(user):
    from loans.models import LoanApplication

    pending = Q(applications__status=LoanApplication.Status.SUBMITTED)
    return _loan_lists(user).annotate(
        pending_requested=Sum("applications__amount_requested", filter=pending),
        pending_group_approved=Sum("applications__amount_group_approved", filter=pending),
    )


LOAN_LISTS = register(Kind(
    name="loan_list",
    label=gettext_lazy("03/TD lists submitted for approval"),
    action="application.decide",
    pending=_loan_lists,
    rows=_loan_list_rows,
    item=lambda row: Item(
        kind=LOAN_LISTS,
        title=_("03/TD list of group %(group)s") % {"group": row.group.name},
        subject=str(row.group.branch),
        amount=row.pending_group_approved or row.pending_requested,
        since=row.submitted_at,
        url=reverse("loans:loan_list_review", args=[row.pk]),
    ),
))


def _plan_changes(user):
    from loans.models import CapitalPlanChange
    from loans.selectors.capital import plan_changes_for

    return plan_changes_for(user).filter(status=CapitalPlanChange.Status.PROPOSED).exclude(proposed_by=user)


PLAN_CHANGES = register(Kind(
    name="plan_change",
    label=gettext_lazy("Capital plan totals proposed"),
    action="capital.decide",
    pending=_plan_changes,
    item=lambda row: Item(
        kind=PLAN_CHANGES,
        title=_("New total for program %(program)s, %(year)s") % {"program": row.program.code, "year": row.year},
        subject=str(row.organization),
        amount=row.amount,
        since=row.proposed_at,
        url=reverse("loans:capital_pending"),
    ),
))


def _allocations(user):
    from loans.models import CapitalAllocation
    from loans.selectors.capital import allocations_for

    return allocations_for(user).filter(status=CapitalAllocation.Status.PROPOSED).exclude(proposed_by=user)


ALLOCATIONS = register(Kind(
    name="allocation",
    label=gettext_lazy("Capital allocations proposed"),
    action="capital.decide",
    pending=_allocations,
    item=lambda row: Item(
        kind=ALLOCATIONS,
        title=_("Allocation for program %(program)s, %(year)s")
        % {"program": row.plan.program.code, "year": row.plan.year},
        subject=str(row.branch),
        amount=row.amount_proposed,
        since=row.proposed_at,
        url=reverse("loans:allocation_detail", args=[row.pk]),
    ),
))


def _adjustments(user):
    from loans.models import CapitalAdjustment
    from loans.selectors.capital import adjustments_for

    return adjustments_for(user).filter(status=CapitalAdjustment.Status.PROPOSED).exclude(actor=user)


def _adjustment_side(allocation):
    return str(allocation.branch) if allocation is not None else _("unallocated capital")


ADJUSTMENTS = register(Kind(
    name="adjustment",
    label=gettext_lazy("Capital adjustments proposed"),
    action="capital.decide",
    pending=_adjustments,
    item=lambda row: Item(
        kind=ADJUSTMENTS,
        title=_("Capital adjustment, program %(program)s")
        % {"program": (row.target or row.source).plan.program.code},
        subject=f"{_adjustment_side(row.source)} → {_adjustment_side(row.target)}",
        amount=row.amount,
        since=row.at,
        url=reverse("loans:capital_pending"),
    ),
))


def _loan_changes(user):
    from loans.models import LoanChange
    from loans.selectors.changes import changes_for

    return changes_for(user).filter(status=LoanChange.Status.REQUESTED).exclude(requested_by=user)


LOAN_CHANGES = register(Kind(
    name="loan_change",
    label=gettext_lazy("Loan changes requested"),
    action="loan_change.decide",
    pending=_loan_changes,
    item=lambda row: Item(
        kind=LOAN_CHANGES,
        title=_("%(change)s of loan %(number)s") % {"change": row.get_kind_display(), "number": row.loan.number},
        subject=str(row.loan.household),
        amount=row.principal_written_off,  # set for a write-off only
        since=row.created_at,
        url=reverse("loans:loan_changes"),
    ),
))


def _reversals(user):
    from loans.models import ReversalRequest
    from loans.selectors.collection import reversal_requests_for

    return reversal_requests_for(user).filter(status=ReversalRequest.Status.PROPOSED).exclude(requested_by=user)


def _reversal_item(row):
    if row.posting_id:
        title = _("Reversal: %(posting)s") % {"posting": row.posting.get_kind_display()}
        household, amount = row.posting.household, row.posting.amount
    else:
        title = _("Reversal of a 13/TD row of group %(group)s") % {"group": row.line.sheet.group.name}
        household, amount = row.line.household, row.line.amount_paid + row.line.savings_in
    return Item(kind=REVERSALS, title=title, subject=str(household), amount=amount, since=row.requested_at,
                url=reverse("loans:reversal_requests"))


REVERSALS = register(Kind(
    name="reversal",
    label=gettext_lazy("Reversal requests"),
    action="reversal.decide",
    pending=_reversals,
    item=_reversal_item,
))


def _bank_imports(user):
    """Checked files wait for an importer to confirm them. Unlike the decisions above, no second person is needed:
    the officer who uploaded a file confirms it too, so it waits for them as well."""
    from loans.bankfiles.selectors import import_batches_for
    from loans.models import ImportBatch

    return import_batches_for(user).filter(status=ImportBatch.Status.PREVIEWED)


BANK_IMPORTS = register(Kind(
    name="bank_import",
    label=gettext_lazy("Bank files checked and waiting for confirmation"),
    action="bank_import.run",
    pending=_bank_imports,
    rows=lambda user: _bank_imports(user).defer("content", "summary", "errors"),
    item=lambda row: Item(
        kind=BANK_IMPORTS,
        title=_("%(kind)s file to confirm") % {"kind": row.get_kind_display()},
        subject=row.file_name,
        amount=None,
        since=row.created_at,
        url=reverse("loans:bank_import_detail", args=[row.pk]),
    ),
))
