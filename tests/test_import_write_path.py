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


def _upload_then(actor, content, between, *, reused):
    """Run the check step, then `between()`, then confirm. reused=False: as when another process runs the apply step
    (it checks the file again; `between` then runs after that check, before the writes)."""
    from loans.bankfiles import importing

    batch = importing.import_upload(kind="loans", file_name="bank.xlsx", content=content, actor=actor)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEWED, batch.errors
    if reused:
        between()
    else:
        importing._parsed.clear()
        check = LoanPlan.check

        def check_then(plan):
            check(plan)
            between()

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(LoanPlan, "check", check_then)
            importing.import_confirm(batch=batch, actor=actor)
        batch.refresh_from_db()
        return batch
    importing.import_confirm(batch=batch, actor=actor)
    batch.refresh_from_db()
    return batch


@pytest.mark.parametrize("reused", [True, False])
def test_a_reference_gone_after_the_check_refuses_its_rows_and_writes_nothing(admin_user, household_a, reused):
    """The apply step checks every reference once for the batch (and locks it); a household deleted between the
    check and the writes refuses the rows that point at it, with the row's number and a reason."""

    def delete():
        GroupMembership.objects.filter(household=household_a).delete()
        Household.objects.filter(pk=household_a.pk).delete()

    rows = [loan_row(1, customer=household_a.customer_code, cid=household_a.citizen_id), loan_row(2)]
    batch = _upload_then(admin_user, loans_file(rows), delete, reused=reused)

    assert batch.status == ImportBatch.Status.FAILED
    assert [(e["row"], e["value"]) for e in batch.errors] == [(5, household_a.customer_code)]
    assert "household" in batch.errors[0]["message"] or "hộ" in batch.errors[0]["message"]
    assert Loan.objects.count() == 0 and Posting.objects.count() == 0
    assert not Household.objects.filter(customer_code=loan_row(2)[6]).exists()


@pytest.mark.parametrize("reused", [True, False])
def test_a_program_gone_after_the_check_is_named_on_each_row(admin_user, group_a, reused):
    from loans.models import LoanProgram

    content = loans_file([loan_row(1), loan_row(2, program="03"), loan_row(3, program="03")])
    batch = _upload_then(admin_user, content, lambda: LoanProgram.objects.filter(code="03").delete(), reused=reused)

    assert batch.status == ImportBatch.Status.FAILED
    assert [(e["row"], e["value"]) for e in batch.errors] == [(6, "03"), (7, "03")]
    assert Loan.objects.count() == 0 and Household.objects.filter(import_batch=batch).count() == 0


def test_the_apply_step_takes_over_the_check_and_makes_no_look_up_again(admin_user, group_a, monkeypatch):
    from loans.bankfiles import loan_plan

    lookups = []
    matching = loan_plan._matching
    monkeypatch.setattr(loan_plan, "_matching", lambda *args: lookups.append(args[1]) or matching(*args))
    batch = run_import("loans", loans_file([loan_row(1), loan_row(2)]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert lookups == ["customer_code", "citizen_id", "number"]  # the check step's only


def test_a_balance_changed_since_the_check_is_checked_again(admin_user, household_a, group_a):
    """The taken-over plan finds a changed figure under its locks: the file is checked again, and the difference
    listed for reconciliation is against the ledger as it is at the writes."""
    from loans.models import ReconciliationItem

    first = run_import("loans", loans_file([loan_row(1)]), admin_user, name="a.xlsx")
    assert first.status == ImportBatch.Status.DONE, first.errors
    loan = Loan.objects.get(number=loan_row(1)[10])

    def repaid():
        Loan.objects.filter(pk=loan.pk).update(principal_outstanding=35_000_000)

    batch = _upload_then(admin_user, loans_file([loan_row(1, outstanding=30_000_000)]), repaid, reused=True)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    item = ReconciliationItem.objects.get(batch=batch, figure=ReconciliationItem.Figure.OUTSTANDING)
    assert (int(item.ledger_value), int(item.bank_value)) == (35_000_000, 30_000_000)


def test_a_customer_registered_since_the_check_is_checked_again(admin_user, group_a):
    """A household that took one of the file's new customer codes since the check stops the writes on its unique
    key; the file is checked again and the row is read as that household's (nothing is written twice)."""
    from tests.factories import HouseholdFactory

    def registered():
        HouseholdFactory(group=group_a, customer_code=loan_row(2)[6], citizen_id=loan_row(2)[8])

    batch = _upload_then(admin_user, loans_file([loan_row(1), loan_row(2)]), registered, reused=True)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert Household.objects.filter(customer_code=loan_row(2)[6]).count() == 1
    assert Loan.objects.get(number=loan_row(2)[10]).household.import_batch_id is None
    assert ledger_ok()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's foreign-key triggers")
def test_foreign_key_triggers_are_back_on_after_an_import(admin_user, group_a):
    batch = run_import("loans", loans_file([loan_row(1)]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


# ---- snapshots: the batch's own rows added, equal to deriving them from the ledger ----------------------------


def _snapshot_rows():
    from loans.models import BranchDayChange, BranchMonthEnd, PortfolioDayChange, PortfolioMonthEnd

    figures = ("loans", "households", "outstanding", "overdue", "frozen", "interest_arrears", "savings")
    return {
        model.__name__: sorted(model.objects.values_list(owner, "program", when, *figures, *flows), key=str)
        for model, owner, when, flows in (
            (PortfolioMonthEnd, "group", "month_end", ("lent_year", "collected_year")),
            (PortfolioDayChange, "group", "on", ("lent", "collected")),
            (BranchMonthEnd, "branch", "month_end", ("lent_year", "collected_year")),
            (BranchDayChange, "branch", "on", ("lent", "collected")),
        )
    }


def _dated(row, disbursed, maturity):
    row[11], row[12] = disbursed, maturity
    return row


def _spy_additions(monkeypatch):
    from loans.bankfiles import importing

    results = []
    add = importing.snapshots_add_import

    def spy(**kwargs):
        results.append(add(**kwargs))
        return results[-1]

    monkeypatch.setattr(importing, "snapshots_add_import", spy)
    return results


def test_an_import_of_new_households_adds_its_rows_to_the_snapshots(admin_user, group_a, monkeypatch):
    """Every kind of loan a file brings (repaid in part or in full, overdue before or at maturity, frozen, with
    interest arrears, disbursed on the file's day or before the first month end, two loans of one household), into
    groups that already have snapshot rows and into a new one: the rows equal those derived from the ledger."""
    from datetime import date

    from loans.ledger.snapshots import snapshots_rebuild

    first = run_import("loans", loans_file([loan_row(1), loan_row(2, overdue=5_000_000)]), admin_user, name="a.xlsx")
    assert first.status == ImportBatch.Status.DONE, first.errors
    snapshots_rebuild(since=date(2024, 1, 1))
    additions = _spy_additions(monkeypatch)
    rows = [
        loan_row(11, arrears=137_500),
        loan_row(12, outstanding=0, savings=0),  # repaid in full on the file's day
        _dated(loan_row(13, overdue=10_000_000), "20/03/2021", "20/03/2026"),  # overdue since maturity, long ago
        loan_row(14, frozen=40_000_000),
        _dated(loan_row(15, outstanding=50_000_000), "10/11/2026", "10/11/2028"),  # disbursed on the file's day
        loan_row(16, customer="6100000015", cid="079572505215", program="03", number="7800000000000099"),
        loan_row(17, group="8100077", savings=0),  # a group the file creates
        _dated(loan_row(18, overdue=40_000_000, arrears=10_000), "05/01/2026", "05/06/2026"),
    ]
    batch = run_import("loans", loans_file(rows), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert additions == [True]
    added = _snapshot_rows()
    assert added["PortfolioDayChange"] and added["BranchMonthEnd"]
    snapshots_rebuild(since=date(2024, 1, 1))
    assert added == _snapshot_rows()
    assert ledger_ok()


def test_a_new_loan_of_a_household_already_known_refreshes_its_groups_from_the_ledger(admin_user, group_a, monkeypatch):
    from datetime import date

    from loans.ledger.snapshots import snapshots_rebuild

    first = run_import("loans", loans_file([loan_row(1)]), admin_user, name="a.xlsx")
    assert first.status == ImportBatch.Status.DONE, first.errors
    snapshots_rebuild(since=date(2024, 1, 1))
    additions = _spy_additions(monkeypatch)
    known = loan_row(2, customer=loan_row(1)[6], cid=loan_row(1)[8], savings=250_000)
    batch = run_import("loans", loans_file([loan_row(1), known, loan_row(3)]), admin_user)

    assert batch.status == ImportBatch.Status.DONE, batch.errors
    assert additions == [False]
    refreshed = _snapshot_rows()
    snapshots_rebuild(since=date(2024, 1, 1))
    assert refreshed == _snapshot_rows()
