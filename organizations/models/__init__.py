"""The organizations app's models, one module per capability: the organization chart, the supervision record, the
audit trail, the monthly group grades, the background jobs and the ward mergers."""

from organizations.models.audit import AuditEvent
from organizations.models.chart import (
    Area,
    GroupMembership,
    Neighbourhood,
    OfficerProfile,
    Organization,
    SavingsGroup,
    Ward,
    group_code_validator,
    neighbourhood_code_validator,
    ward_code_validator,
)
from organizations.models.grading import GradingCriteria, GroupGrade
from organizations.models.jobs import JobRun, ScheduledJob
from organizations.models.mergers import GroupTransfer, WardMerger
from organizations.models.supervision import (
    Award,
    ChecklistItem,
    CooperationAgreement,
    EconomicModel,
    Inspection,
    InspectionFinding,
    OutreachSession,
    TrainingClass,
)

__all__ = [
    "Area",
    "AuditEvent",
    "Award",
    "ChecklistItem",
    "CooperationAgreement",
    "EconomicModel",
    "GradingCriteria",
    "GroupGrade",
    "GroupMembership",
    "GroupTransfer",
    "Inspection",
    "InspectionFinding",
    "JobRun",
    "Neighbourhood",
    "OfficerProfile",
    "Organization",
    "OutreachSession",
    "SavingsGroup",
    "ScheduledJob",
    "TrainingClass",
    "Ward",
    "WardMerger",
    "group_code_validator",
    "neighbourhood_code_validator",
    "ward_code_validator",
]
