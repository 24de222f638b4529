"""What waits for a user's decision, across the domain: one registration per kind of decision, made next to its
domain (loans/inbox.py), read by the inbox page and the count in the main menu.

A kind says who may decide (an action of organizations/policy.py) and which rows wait, scoped as its decision page
scopes them; proposals the user made themself are left out, as someone else must decide them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from organizations.policy import may


@dataclass(frozen=True)
class Item:
    """One decision waiting: what it is, about whom, how much, since when, and the page where it is decided."""

    kind: "Kind"
    title: str
    subject: str
    amount: Decimal | None
    since: datetime
    url: str


@dataclass(frozen=True)
class Kind:
    #: A short unique name, for tests and the page's markup.
    name: str
    #: What the decision is, as a heading ("Capital allocations proposed").
    label: str
    #: The policy action that decides it; a user without it has nothing of this kind waiting.
    action: str
    #: pending(user) -> QuerySet of the rows waiting for the user: scoped, without the user's own requests.
    pending: Callable[..., QuerySet]
    #: item(row) -> Item; must read only what `rows` selected, so the page costs one query per kind.
    item: Callable[..., Item]
    #: rows(user) -> the rows to show (pending(user) with what `item` reads); pending(user) when not given.
    rows: Callable[..., QuerySet] | None = None

    def waiting_for(self, user):
        if not may(user, self.action):
            return []
        rows = (self.rows or self.pending)(user)
        return [self.item(row) for row in rows]


_kinds: dict[str, Kind] = {}


def register(kind):
    """Add a kind of decision (once per name: the apps' ready() may run again in tests)."""
    _kinds[kind.name] = kind
    return kind


def kinds():
    return list(_kinds.values())


def waiting_for(user):
    """Every decision waiting for `user`, oldest first: one query per kind the user may decide."""
    items = [item for kind in _kinds.values() for item in kind.waiting_for(user)]
    return sorted(items, key=lambda item: item.since)


def count_for(user):
    """How many decisions wait for `user`, in one query whatever the number of kinds (the menu shows it on every
    page)."""
    querysets = [kind.pending(user).order_by().values_list("pk") for kind in _kinds.values() if may(user, kind.action)]
    if not querysets:
        return 0
    first, *others = querysets
    return first.union(*others, all=True).count() if others else first.count()
