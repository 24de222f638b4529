"""Writes about the organization tree: savings groups (groups.py) and the supervision record (supervision.py)."""

# Re-exports for the old import path; removed once callers import from the capability modules.
from organizations.services.groups import group_create, group_update
from organizations.services.supervision import (
    WRITERS,
    agreement_record,
    award_record,
    economic_model_record,
    inspection_record,
    outreach_session_record,
    training_class_record,
)

__all__ = [
    "WRITERS",
    "agreement_record",
    "award_record",
    "economic_model_record",
    "group_create",
    "group_update",
    "inspection_record",
    "outreach_session_record",
    "training_class_record",
]
