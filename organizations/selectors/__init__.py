"""Scoped reads: what each user may see of the organization tree (scope.py), the login history (logins.py) and the
supervision record (supervision.py). Views look objects up only through these."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from organizations.selectors.logins import locked_logins, login_events
from organizations.selectors.scope import branch_scope, branches_for, groups_for, wards_for, with_group_figures
from organizations.selectors.supervision import (
    agreements_for,
    awards_for,
    economic_models_for,
    editable_inspections_for,
    inspections_for,
    outreach_sessions_for,
    recording_units_for,
    supervision_summary,
    training_classes_for,
    unit_scope,
    units_for,
)

__all__ = [
    "agreements_for",
    "awards_for",
    "branch_scope",
    "branches_for",
    "economic_models_for",
    "editable_inspections_for",
    "groups_for",
    "inspections_for",
    "locked_logins",
    "login_events",
    "outreach_sessions_for",
    "recording_units_for",
    "supervision_summary",
    "training_classes_for",
    "unit_scope",
    "units_for",
    "wards_for",
    "with_group_figures",
]
