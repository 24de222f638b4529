"""Officers post the same 13/TD at the same moment: one post wins, with its own amounts; the others are refused at once.

This needs real concurrent transactions, so it runs on PostgreSQL only (SQLite serialises whole-database writes and
has no SELECT … FOR UPDATE). bench/load_bench.py drives the same race through gunicorn.
"""

import threading
from datetime import date

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import translation

from loans.models import CollectionSheet, Posting
from loans.services.collection import collection_sheet_create, collection_sheet_post
from organizations.errors import DomainError
from organizations.models import OfficerProfile
from tests.factories import LoanFactory, officer

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL: SQLite has no row locks (SELECT … FOR UPDATE), so there is no race to prove.",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def draft(group_a, household_a, ward_officer_a):
    with time_machine.travel("2026-06-20 09:00 +0700"):
        LoanFactory(household=household_a, disbursed_on=date(2026, 5, 20))
        yield collection_sheet_create(group=group_a, on=date(2026, 6, 20), actor=ward_officer_a)


def test_a_post_while_a_colleague_holds_the_sheet_is_refused_at_once(draft, ward_officer_a):
    line = draft.lines.get()
    holding, release = threading.Event(), threading.Event()

    def colleague():
        try:
            with transaction.atomic():
                CollectionSheet.objects.select_for_update().get(pk=draft.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=colleague)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        with translation.override("en"), pytest.raises(DomainError, match="Another officer is saving or posting"):
            collection_sheet_post(sheet=draft, entries={line.pk: (284_167, 0, 0)}, actor=ward_officer_a)
    finally:
        release.set()
        thread.join(timeout=10)
    assert not Posting.objects.filter(collection_lines__sheet=draft).exists()
    collection_sheet_post(sheet=draft, entries={line.pk: (284_167, 0, 0)}, actor=ward_officer_a)
    assert CollectionSheet.objects.get(pk=draft.pk).status == CollectionSheet.Status.POSTED


def test_three_officers_post_the_same_sheet_at_once_and_exactly_one_wins_with_its_own_amounts(
    draft, ward_officer_a, branch_a
):
    line = draft.lines.get()
    officers = [ward_officer_a] + [officer(f"ward_a{i}", branch_a, OfficerProfile.Role.WARD_OFFICER) for i in (2, 3)]
    deposits = {user.username: 10_000 * (index + 1) for index, user in enumerate(officers)}
    barrier = threading.Barrier(len(officers))
    outcomes = {}

    def post(user):
        try:
            with translation.override("en"):
                barrier.wait(timeout=10)
                collection_sheet_post(
                    sheet=draft, entries={line.pk: (284_167, deposits[user.username], 0)}, actor=user
                )
                outcomes[user.username] = "posted"
        except DomainError as error:
            outcomes[user.username] = str(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=[user]) for user in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [name for name, outcome in outcomes.items() if outcome == "posted"]
    assert len(outcomes) == 3 and len(winners) == 1, outcomes
    for name, outcome in outcomes.items():
        if name not in winners:
            assert "already posted" in outcome or "Another officer" in outcome, outcome
    sheet = CollectionSheet.objects.get(pk=draft.pk)
    assert sheet.posted_by.username == winners[0]
    savings = [p.amount for p in Posting.objects.filter(collection_lines__sheet=sheet, kind=Posting.Kind.SAVINGS_IN)]
    assert savings == [deposits[winners[0]]]
    assert Posting.objects.filter(collection_lines__sheet=sheet, kind=Posting.Kind.INTEREST).count() == 1
