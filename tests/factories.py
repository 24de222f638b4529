"""Factories that keep ward, organization, group and household consistent."""

from contextlib import nullcontext
from datetime import date
from decimal import Decimal

import factory
import time_machine
from django.contrib.auth import get_user_model

from borrowers.models import Household
from loans.ledger.summaries import refresh_group_balances
from loans.models import Loan, LoanApplication, LoanProgram, Posting
from organizations.models import Area, GroupMembership, OfficerProfile, Organization, SavingsGroup, Ward


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area
        django_get_or_create = ["code"]

    code = "TEST"
    name = "Quận thử"


class WardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ward

    area = factory.SubFactory(AreaFactory)
    # Away from the personas' fixed codes (900001…900003), whatever ran before in this process.
    code = factory.Sequence(lambda n: f"{910000 + n:06d}")
    name = factory.Sequence(lambda n: f"Phường {n}")


class DistrictOrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["area", "kind", "level"]

    area = factory.SubFactory(AreaFactory)
    kind = Organization.Kind.WOMEN
    level = Organization.Level.DISTRICT
    name = factory.LazyAttribute(lambda o: f"{Organization.Kind(o.kind).label} (district)")


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["kind", "ward", "level"]

    ward = factory.SubFactory(WardFactory)
    area = factory.LazyAttribute(lambda o: o.ward.area)
    kind = Organization.Kind.WOMEN
    level = Organization.Level.WARD
    parent = factory.LazyAttribute(lambda o: DistrictOrganizationFactory(area=o.area, kind=o.kind))
    name = factory.LazyAttribute(lambda o: f"{Organization.Kind(o.kind).label} – {o.ward.name}")


class SavingsGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavingsGroup

    code = factory.Sequence(lambda n: f"{8000000 + n:07d}")
    name = factory.Sequence(lambda n: f"Tổ số {n}")
    branch = factory.SubFactory(BranchFactory)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household
        skip_postgeneration_save = True

    group = None  # popped in _create; the household joins it after creation

    customer_code = factory.Sequence(lambda n: f"{9000000000 + n:010d}")
    head_name = factory.Sequence(lambda n: f"Nguyễn Thị Thử {n}")
    # A valid CCCD (borrowers/identity.py): Hồ Chí Minh City, a woman born in 1980, the sequence as serial.
    citizen_id = factory.Sequence(lambda n: f"079180{n:06d}")
    address = "12 Đường thử"
    branch = factory.LazyAttribute(lambda o: o.group.branch if o.group else BranchFactory())
    ward = factory.LazyAttribute(lambda o: o.branch.ward)
    policy_status = Household.PolicyStatus.POOR
    policy_list_year = 2025

    @factory.post_generation
    def join(obj, create, extracted, **kwargs):
        group = getattr(obj, "_group", None)
        if create and group is not None:
            GroupMembership.objects.create(group=group, household=obj, joined_on=date(2024, 1, 1))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        group = kwargs.pop("group", None)
        obj = super()._create(model_class, *args, **kwargs)
        obj._group = group
        return obj


def program(code="01"):
    return LoanProgram.objects.get(code=code)


class LoanFactory(factory.django.DjangoModelFactory):
    """A disbursed loan with its schedule, disbursement posting and balance cache."""

    class Meta:
        model = Loan
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"{5500000000000000 + n:016d}")
    household = factory.SubFactory(HouseholdFactory)
    group = factory.LazyAttribute(lambda o: o.household.current_membership.group)
    program = factory.LazyFunction(program)
    amount = Decimal("50000000")
    disbursed_on = date(2026, 1, 15)
    term_months = 36
    maturity_on = factory.LazyAttribute(
        lambda o: date(o.disbursed_on.year + o.term_months // 12, o.disbursed_on.month, o.disbursed_on.day)
    )
    frequency = Loan.Frequency.QUARTERLY
    annual_rate = factory.LazyAttribute(lambda o: o.program.annual_rate)
    overdue_multiplier = factory.LazyAttribute(lambda o: o.program.overdue_multiplier)
    principal_outstanding = factory.LazyAttribute(lambda o: o.amount)

    @factory.post_generation
    def ledger(obj, create, extracted, **kwargs):
        if not create:
            return
        obj.instalments.bulk_create(obj.build_schedule())
        Posting.objects.create(
            kind=Posting.Kind.DISBURSEMENT, household=obj.household, loan=obj, amount=obj.amount, on=obj.disbursed_on
        )
        # Keep the per-group summaries the dashboard reads in step with the cached balance set above.
        refresh_group_balances([obj.group_id])


class LoanApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoanApplication

    household = factory.SubFactory(HouseholdFactory)
    group = factory.LazyAttribute(lambda o: o.household.current_membership.group)
    program = factory.LazyFunction(program)
    amount_requested = Decimal("30000000")
    term_months = 36
    purpose = "Chăn nuôi heo"
    created_by = factory.LazyFunction(lambda: UserFactory())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Cán bộ"
    last_name = factory.Sequence(lambda n: f"số {n}")
    password = factory.PostGenerationMethodCall("set_password", "uythac-test")


def officer(username, organization, role):
    user = UserFactory(
        username=username, is_superuser=role == OfficerProfile.Role.ADMIN, is_staff=role == OfficerProfile.Role.ADMIN
    )
    user.save()
    OfficerProfile.objects.create(user=user, organization=organization, role=role)
    return user


def submitted_loan_list(*, group, submitted_by, households=None, amounts=(30_000_000, 20_000_000), program_code="01",
                        term_months=36):
    """A 03/TD list in the state the ward side leaves it: certified, submitted, its requests SUBMITTED."""
    from django.utils import timezone

    from loans.models import LoanList, ReviewMeeting

    today = timezone.localdate()
    meeting = ReviewMeeting.objects.create(group=group, held_on=today, attendee_count=len(amounts),
                                           recorded_by=submitted_by)
    loan_list = LoanList.objects.create(
        meeting=meeting, group=group, status=LoanList.Status.SUBMITTED, certified_on=today,
        certified_signer="Chủ tịch UBND phường", certified_by=submitted_by,
        submitted_at=timezone.now(), submitted_by=submitted_by,
    )
    households = list(households or [HouseholdFactory(group=group) for _ in amounts])
    Status = LoanApplication.Status
    for household, amount in zip(households, amounts, strict=True):
        application = LoanApplicationFactory(
            household=household, group=group, program=program(program_code), amount_requested=Decimal(amount),
            term_months=term_months, created_by=submitted_by, meeting=meeting,
        )
        application.transition_to(Status.GROUP_APPROVED, actor=submitted_by, note="Bình xét đồng ý")
        application.amount_group_approved = Decimal(amount)
        application.loan_list = loan_list
        application.save(update_fields=["amount_group_approved", "loan_list", "updated_at"])
        application.transition_to(Status.CERTIFIED, actor=submitted_by)
        application.transition_to(Status.SUBMITTED, actor=submitted_by)
    return loan_list


def approved_allocation(*, branch, amount, program_code="01", year=None, plan_amount=None):
    """An approved allocation of `amount` for the branch, under a plan of `plan_amount` (default: the same)."""
    from django.utils import timezone

    from loans.models import AllocationEvent, CapitalAllocation, CapitalPlan

    year = year or timezone.localdate().year
    plan, _created = CapitalPlan.objects.get_or_create(
        organization=branch.parent, program=program(program_code), year=year,
        defaults={"amount": Decimal(plan_amount or amount)},
    )
    allocation = CapitalAllocation.objects.create(
        plan=plan, branch=branch, amount_proposed=Decimal(amount), amount=Decimal(amount),
        status=CapitalAllocation.Status.APPROVED, decided_at=timezone.now(),
    )
    AllocationEvent.objects.create(allocation=allocation, kind=AllocationEvent.Kind.APPROVED, amount=amount)
    return allocation


def install_reference_data():
    """Programs, example fee rates, the checklist, grading criteria and the job schedule, as the data migrations
    install them (idempotent): a transactional test empties every table when it ends."""
    from importlib import import_module

    from django.apps import apps

    from loans.defaults import install_defaults as install_loan_defaults
    from organizations.defaults import install_defaults as install_organization_defaults

    install_loan_defaults(apps)
    install_organization_defaults(apps)
    import_module("organizations.migrations.0003_background_jobs").add_schedule(apps, None)
    import_module("loans.migrations.0012_prepared_exports").add_schedule(apps, None)


def checker_for(branch):
    """District staff of `branch`'s organization, to approve what a ward officer asked for (made once)."""
    user = UserFactory(username=f"checker-{branch.parent_id}")
    OfficerProfile.objects.get_or_create(
        user=user, defaults={"organization": branch.parent, "role": OfficerProfile.Role.DISTRICT_STAFF}
    )
    return user


def _approve_reversal(request, decider):
    from loans.services.collection_reversals import reversal_decide

    target = request.line.sheet.group.branch if request.line_id else request.posting.household.branch
    return reversal_decide(request=request, approve=True, actor=decider or checker_for(target))


def reverse_line(*, line, reason, actor, decider=None):
    """A 13/TD row reversed as the product does it: asked by `actor`, approved by someone else. -> the line."""
    from loans.services.collection_reversals import reversal_request

    _approve_reversal(reversal_request(line=line, reason=reason, actor=actor), decider)
    line.refresh_from_db()
    return line


def reverse_posting(*, posting, reason, actor, decider=None, booked_on=None):
    """One posting reversed (a reversal: undone) as the product does it. -> the posting the approval wrote, dated on
    the original's value date and booked today, or at 10:00 on `booked_on`."""
    from loans.services.collection_reversals import reversal_request

    with time_machine.travel(f"{booked_on:%Y-%m-%d} 10:00 +0700", tick=False) if booked_on else nullcontext():
        request = _approve_reversal(reversal_request(posting=posting, reason=reason, actor=actor), decider)
    return request.postings.get()


def post_sheet(group, on, actor, amounts):
    """Prepare, fill ({household: (paid, deposit, withdrawal)}) and post a 13/TD. The households left out paid
    nothing: the officer confirms their number, as posting asks. -> the sheet."""
    from loans.services.collection import collection_sheet_create, collection_sheet_post, collection_sheet_save

    sheet = collection_sheet_create(group=group, on=on, actor=actor)
    lines = {line.household_id: line.pk for line in sheet.lines.all()}
    collection_sheet_save(sheet=sheet, entries={lines[h.pk]: values for h, values in amounts.items()}, actor=actor)
    return collection_sheet_post(sheet=sheet, actor=actor, nothing_paid=len(lines) - len(amounts))
