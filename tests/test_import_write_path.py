"""The loan-balance import's write path: references checked once per batch, the rows it writes, all or nothing."""

import pytest
from django.db import connection

from borrowers.models import Household
from loans.bankfiles.loan_plan import LoanPlan
from loans.models import ImportBatch, Loan, Posting, RepaymentInstalment
from organizations.models import GroupMembership
from tests.test_bank_import import (  # noqa: F401  (autouse fixtures)
    frozen_today,
    inline_jobs,
    ledger_ok,
    loan_row,
    loans_file,
    run_import,
)

pytestmark = pytest.mark.django_db


def test_rows_written_per_table(admin_user, group_a):
    rows = [
        loan_row(1),  # 40 of 50 million outstanding: a repayment posting; one instalment
        loan_row(2, outstanding=50_000_000, savings=0),  # nothing repaid, no savings: the disbursement only
        loan_row(3, overdue=5_000_000),  # overdue: a missed instalment and the rest at maturity
    ]
    batch = run_import("loans", loans_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    ours = Posting.objects.filter(import_batch=batch)
    assert batch.summary["written"]["postings"] == ours.count() == 2 + 3 + 2
    assert Household.objects.filter(import_batch=batch).count() == 3
    assert Loan.objects.filter(import_batch=batch).count() == 3
    assert GroupMembership.objects.filter(household__import_batch=batch, group=group_a).count() == 3
    schedule = {
        (loan.number[-2:], i.seq, int(i.principal), i.overdue_since is not None)
        for loan in Loan.objects.filter(import_batch=batch)
        for i in RepaymentInstalment.objects.filter(loan=loan)
    }
    assert schedule == {
        ("01", 1, 50_000_000, False),
        ("02", 1, 50_000_000, False),
        ("03", 1, 15_000_000, True),  # repaid 10 million + 5 million overdue
        ("03", 2, 35_000_000, False),
    }
    # Savings first, then disbursements, then what was repaid: one statement keeps the order the three had.
    assert (
        list(ours.order_by("pk").values_list("kind", flat=True))
        == ["savings_in"] * 2 + ["disbursement"] * 3 + ["principal"] * 2
    )
    assert ledger_ok()


def test_a_reference_gone_after_the_check_refuses_its_rows_and_writes_nothing(admin_user, household_a, monkeypatch):
    """The apply step checks every reference once for the batch (and locks it); a household deleted between the
    check and the writes refuses the rows that point at it, with the row's number and a reason."""
    check = LoanPlan.check
    calls = []

    def check_then_delete(plan):
        check(plan)
        calls.append(plan)
        if len(calls) == 2:  # the apply step: gone after its check, before its writes
            GroupMembership.objects.filter(household=household_a).delete()
            Household.objects.filter(pk=household_a.pk).delete()

    monkeypatch.setattr(LoanPlan, "check", check_then_delete)
    rows = [loan_row(1, customer=household_a.customer_code, cid=household_a.citizen_id), loan_row(2)]
    batch = run_import("loans", loans_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.FAILED
    assert [(e["row"], e["value"]) for e in batch.errors] == [(5, household_a.customer_code)]
    assert "household" in batch.errors[0]["message"] or "hộ" in batch.errors[0]["message"]
    assert Loan.objects.count() == 0 and Posting.objects.count() == 0
    assert not Household.objects.filter(customer_code=loan_row(2)[6]).exists()


def test_a_program_gone_after_the_check_is_named_on_each_row(admin_user, group_a, monkeypatch):
    from loans.models import LoanProgram

    check = LoanPlan.check
    calls = []

    def check_then_delete(plan):
        check(plan)
        calls.append(plan)
        if len(calls) == 2:
            LoanProgram.objects.filter(code="03").delete()

    monkeypatch.setattr(LoanPlan, "check", check_then_delete)
    batch = run_import(
        "loans", loans_file([loan_row(1), loan_row(2, program="03"), loan_row(3, program="03")]), admin_user
    )

    assert batch.status == ImportBatch.Status.FAILED
    assert [(e["row"], e["value"]) for e in batch.errors] == [(6, "03"), (7, "03")]
    assert Loan.objects.count() == 0 and Household.objects.filter(import_batch=batch).count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's foreign-key triggers")
def test_foreign_key_triggers_are_back_on_after_an_import(admin_user, group_a):
    batch = run_import("loans", loans_file([loan_row(1)]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
