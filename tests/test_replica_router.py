"""The read replica (config/routers.py): report reads go to it, everything else to the primary.

The router's decisions are checked on any database. On PostgreSQL the report selectors are run against a `replica`
alias: first as a TEST mirror of the test database (as config/settings.py configures it when DATABASE_REPLICA_URL is
set), capturing which connection the queries ran on; then against a second PostgreSQL database, a copy taken before
the primary changed, whose older figures the reports must show.
"""

from datetime import date

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from config import routers
from config.routers import REPLICA, ReportReplicaRouter, report_reads
from loans.models import Loan, Posting
from loans.reports.selectors import portfolio_report, portfolio_totals
from organizations.models import OfficerProfile, Organization
from tests import databases
from tests.factories import (
    BranchFactory,
    DistrictOrganizationFactory,
    HouseholdFactory,
    LoanFactory,
    SavingsGroupFactory,
    WardFactory,
    install_reference_data,
    officer,
)

TODAY = "2026-12-07"
ROUTERS = ["config.routers.ReportReplicaRouter"]


class TestRouterDecisions:
    """What the router answers, whatever the database (no replica needed)."""

    @pytest.fixture(autouse=True)
    def replica_present(self, monkeypatch):
        monkeypatch.setattr(routers, "replica_configured", lambda: True)

    def test_reads_go_to_the_primary_outside_reports(self):
        assert ReportReplicaRouter().db_for_read(Loan) == "default"

    def test_report_reads_go_to_the_replica(self):
        with report_reads():
            assert ReportReplicaRouter().db_for_read(Loan) == REPLICA
        assert ReportReplicaRouter().db_for_read(Loan) == "default"

    def test_report_reads_inside_a_transaction_stay_on_the_primary(self, monkeypatch):
        monkeypatch.setattr(connections["default"], "in_atomic_block", True)
        with report_reads():
            assert ReportReplicaRouter().db_for_read(Loan) == "default"

    def test_writes_and_migrations_go_to_the_primary(self):
        router = ReportReplicaRouter()
        with report_reads():
            assert router.db_for_write(Loan) == "default"
        assert router.allow_migrate("default", "loans") is True
        assert router.allow_migrate(REPLICA, "loans") is False

    def test_no_replica_configured_changes_nothing(self, monkeypatch):
        monkeypatch.setattr(routers, "replica_configured", lambda: False)
        with report_reads():
            assert ReportReplicaRouter().db_for_read(Loan) == "default"

    def test_without_a_replica_url_no_router_is_installed(self):
        if REPLICA in settings.DATABASES:
            pytest.skip("DATABASE_REPLICA_URL is set for this run")
        assert not getattr(settings, "DATABASE_ROUTERS", [])


def replica_settings(name):
    default = connections["default"].settings_dict
    return {**default, "NAME": name, "TEST": {**default["TEST"], "MIRROR": "default"}}


@pytest.fixture(scope="class")
def replica_alias(django_db_setup):
    """A `replica` alias mirroring the test database, as Django's TEST MIRROR makes it (the suite's own test database
    set-up, tests/databases.py, clones the default database only)."""
    original = settings.DATABASES.get(REPLICA)
    if original is not None:
        connections[REPLICA].close()
        del connections[REPLICA]
    settings.DATABASES[REPLICA] = replica_settings(connections["default"].settings_dict["NAME"])
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    if original is None:
        del settings.DATABASES[REPLICA]
    else:
        settings.DATABASES[REPLICA] = original


@pytest.fixture
def province(db):
    """One ward, the Front, a Women's Union branch with a group and a 50 million loan; the Front supervisor."""
    install_reference_data()
    ward = WardFactory(code="900001", name="Phường A")
    front = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.FRONT)
    women = DistrictOrganizationFactory(area=ward.area, kind=Organization.Kind.WOMEN)
    branch = BranchFactory(ward=ward, kind=Organization.Kind.WOMEN, parent=women)
    group = SavingsGroupFactory(branch=branch, code="8100001")
    LoanFactory(household=HouseholdFactory(group=group), disbursed_on=date(2026, 10, 1))
    return {"front": officer("front", front, OfficerProfile.Role.FRONT_SUPERVISOR), "group": group}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a read replica is a PostgreSQL deployment")
@pytest.mark.today(TODAY)
@pytest.mark.usefixtures("replica_alias")
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
class TestOnPostgreSQL:
    def test_report_reads_run_on_the_replica(self, province):
        front = province["front"]
        with override_settings(DATABASE_ROUTERS=ROUTERS):
            with (
                CaptureQueriesContext(connections[REPLICA]) as on_replica,
                CaptureQueriesContext(connections["default"]) as on_primary,
            ):
                totals = portfolio_totals(user=front, on=date(2026, 12, 7))
            assert totals["outstanding"] == 50_000_000
            assert on_replica.captured_queries, "the report read nothing from the replica"
            assert not on_primary.captured_queries
            # Outside a report, reads and writes stay on the primary.
            with (
                CaptureQueriesContext(connections[REPLICA]) as on_replica,
                CaptureQueriesContext(connections["default"]) as on_primary,
            ):
                loan = Loan.objects.get()
                Posting.objects.create(
                    kind=Posting.Kind.SAVINGS_IN, household=loan.household, amount=1000, on=loan.disbursed_on
                )
            assert not on_replica.captured_queries
            assert any("INSERT" in query["sql"] for query in on_primary.captured_queries)

    def test_report_reads_in_a_transaction_stay_on_the_primary(self, province):
        with (
            override_settings(DATABASE_ROUTERS=ROUTERS),
            CaptureQueriesContext(connections[REPLICA]) as on_replica,
            transaction.atomic(),
        ):
            portfolio_report(user=province["front"], on=date(2026, 12, 7))
        assert not on_replica.captured_queries

    def test_reports_show_the_second_database(self, province):
        """The replica is a copy taken before the primary changed: the reports show the copy's figures."""
        test_name = connections["default"].settings_dict["NAME"]
        copy = f"{test_name}_replica"
        connections.close_all()  # CREATE DATABASE … TEMPLATE needs the source without connections
        # A live server thread of an earlier browser test in this process may still hold one: end it.
        databases._pg(connections["default"], "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", [test_name])
        databases.pg_clone(connections["default"], source=test_name, target=copy)
        original = connections[REPLICA].settings_dict
        connections[REPLICA].close()
        connections[REPLICA].settings_dict = replica_settings(copy)
        try:
            LoanFactory(household=HouseholdFactory(group=province["group"]), disbursed_on=date(2026, 11, 1))
            with override_settings(DATABASE_ROUTERS=ROUTERS):
                on_replica = portfolio_totals(user=province["front"], on=date(2026, 12, 7))
            with override_settings(DATABASE_ROUTERS=[]):
                on_primary = portfolio_totals(user=province["front"], on=date(2026, 12, 7))
        finally:
            connections[REPLICA].close()
            connections[REPLICA].settings_dict = original
            databases.pg_drop(connections["default"], copy)
        assert (on_replica["loans"], on_replica["outstanding"]) == (1, 50_000_000)
        assert (on_primary["loans"], on_primary["outstanding"]) == (2, 100_000_000)
