"""Vietnam's working days: weekends, the public holidays and the government's yearly decisions.

Public holidays (New Year, Tết, Hùng Kings' day, 30/04, 01/05, National Day) and the make-up Saturdays already
decreed come from the `holidays` package; each year's extra days off and make-up working days that an admin records
(CalendarException) override them. Deadlines counted in working days and due dates that fall on a non-working day
all go through this module.

A year's days are built once (one query) and kept per process for CACHE_SECONDS; saving or deleting an exception
clears the cache of this process at once, other processes follow within CACHE_SECONDS. Services that walk many days
in one transaction (the day close) take a `WorkingCalendar.for_span()` of their own, read in one query.
"""

import threading
import time
from datetime import date, timedelta

import holidays
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from loans.models import CalendarException

ONE_DAY = timedelta(days=1)
CACHE_SECONDS = 300
#: Longest run of non-working days the calendar accepts before giving up (Tết with a bridge is about 9 days).
MAX_DAYS_OFF_IN_A_ROW = 31


def _public_days(year):
    """(holidays, make-up working weekend days) of the public calendar, from the `holidays` package."""
    country = holidays.Vietnam(years=year)
    return set(country), {d for d in country.weekend_workdays if d.year == year}


class WorkingCalendar:
    """Working days over any span of years; years are read on first use (one query per year) or all at once with
    `for_span`."""

    def __init__(self, exceptions=None, years=()):
        self._years = {}
        for year in years:
            self._years[year] = self._build(year, {d: k for d, k in (exceptions or {}).items() if d.year == year})

    @classmethod
    def for_span(cls, start, end):
        """A calendar with every year from `start` to `end` (and the next, for due dates moved past New Year) read in
        one query."""
        years = range(start.year, end.year + 2)
        rows = CalendarException.objects.filter(day__year__gte=years[0], day__year__lte=years[-1])
        return cls(exceptions=dict(rows.values_list("day", "kind")), years=years)

    @staticmethod
    def _build(year, exceptions):
        off, working = _public_days(year)
        for day, kind in exceptions.items():
            if kind == CalendarException.Kind.OFF:
                off.add(day)
                working.discard(day)
            else:
                working.add(day)
                off.discard(day)
        return off, working

    def _year(self, year):
        if year not in self._years:
            rows = CalendarException.objects.filter(day__year=year).values_list("day", "kind")
            self._years[year] = self._build(year, dict(rows))
        return self._years[year]

    def is_working_day(self, day):
        off, working = self._year(day.year)
        if day in working:
            return True
        return day.weekday() < 5 and day not in off

    def on_or_after(self, day):
        """`day` if it is a working day, else the next one: where a due date on a non-working day moves to."""
        for _step in range(MAX_DAYS_OFF_IN_A_ROW):
            if self.is_working_day(day):
                return day
            day += ONE_DAY
        raise ValueError(f"No working day in the {MAX_DAYS_OFF_IN_A_ROW} days from {day}: check the calendar.")

    def next_working_day(self, day):
        """The first working day after `day`."""
        return self.on_or_after(day + ONE_DAY)

    def add_working_days(self, day, count):
        """The date `count` working days after `day` (`day` itself not counted): the bank's 3 working days from a
        list's submission end on add_working_days(submitted_on, 3)."""
        for _i in range(count):
            day = self.next_working_day(day)
        return day

    def working_days_before(self, day, count):
        """The date `count` working days before `day`: asking on that date or earlier leaves `count` working days."""
        while count:
            day -= ONE_DAY
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start, end):
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            count += self.is_working_day(day)
        return count


_lock = threading.Lock()
_shared = {"calendar": None, "built": 0.0}


def working_calendar():
    """This process's calendar, rebuilt at most every CACHE_SECONDS (and at once after an edit here)."""
    with _lock:
        if _shared["calendar"] is None or time.monotonic() - _shared["built"] > CACHE_SECONDS:
            _shared["calendar"], _shared["built"] = WorkingCalendar(), time.monotonic()
        return _shared["calendar"]


def clear_calendar_cache():
    with _lock:
        _shared["calendar"] = None


@receiver(post_save, sender=CalendarException)
@receiver(post_delete, sender=CalendarException)
def _exception_changed(**kwargs):
    clear_calendar_cache()


def is_working_day(day: date) -> bool:
    return working_calendar().is_working_day(day)


def working_day_on_or_after(day: date) -> date:
    return working_calendar().on_or_after(day)


def next_working_day(day: date) -> date:
    return working_calendar().next_working_day(day)


def add_working_days(day: date, count: int) -> date:
    return working_calendar().add_working_days(day, count)


def working_days_before(day: date, count: int) -> date:
    return working_calendar().working_days_before(day, count)


def working_days_between(start: date, end: date) -> int:
    return working_calendar().working_days_between(start, end)
