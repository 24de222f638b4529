"""Programs, loan requests and their review, loans with their schedules, and the append-only ledger.

One module per capability; this package re-exports every model and helper, the usual Django models package.
"""

from loans.models.bankfiles import BankGroupGrade, ImportBatch, ReconciliationItem
from loans.models.calendar import CalendarException
from loans.models.capital import (
    AllocationEvent,
    CapitalAdjustment,
    CapitalAllocation,
    CapitalPlan,
    CapitalPlanChange,
    CapitalUse,
)
from loans.models.changes import LoanChange
from loans.models.checks import GroupInspection, LoanUseCheck
from loans.models.collection import CollectionItem, CollectionLine, CollectionSheet
from loans.models.exports import PreparedExport
from loans.models.fees import FeeReduction, FeeSchedule
from loans.models.ledger import (
    BranchBalance,
    BranchDayChange,
    BranchMonthEnd,
    BranchProgramBalance,
    GroupBalance,
    GroupProgramBalance,
    InterestArrearsEntry,
    MonthlyBalance,
    PortfolioDayChange,
    PortfolioMonthEnd,
    Posting,
    SnapshotCoverage,
    SnapshotFigures,
)
from loans.models.loans import (
    Loan,
    LoanStatusChange,
    RepaymentInstalment,
    add_months,
    loan_number_validator,
    schedule_instalments,
    schedule_rows,
)
from loans.models.overdue import DayClose
from loans.models.pipeline import StatusChange, StatusPipeline
from loans.models.programs import LoanProgram, ProgramRate
from loans.models.requests import ApplicationStatusChange, LoanApplication, LoanList, ReviewMeeting
from loans.models.reversals import ReversalRequest

__all__ = [
    "LoanProgram",
    "ProgramRate",
    "CalendarException",
    "DayClose",
    "StatusPipeline",
    "StatusChange",
    "ReviewMeeting",
    "LoanList",
    "LoanApplication",
    "ApplicationStatusChange",
    "loan_number_validator",
    "add_months",
    "schedule_rows",
    "schedule_instalments",
    "Loan",
    "LoanStatusChange",
    "RepaymentInstalment",
    "ImportBatch",
    "ReconciliationItem",
    "BankGroupGrade",
    "PreparedExport",
    "Posting",
    "InterestArrearsEntry",
    "GroupProgramBalance",
    "BranchBalance",
    "BranchDayChange",
    "BranchMonthEnd",
    "BranchProgramBalance",
    "GroupBalance",
    "MonthlyBalance",
    "SnapshotFigures",
    "PortfolioMonthEnd",
    "PortfolioDayChange",
    "SnapshotCoverage",
    "CapitalPlan",
    "CapitalPlanChange",
    "CapitalAllocation",
    "CapitalAdjustment",
    "AllocationEvent",
    "CapitalUse",
    "CollectionSheet",
    "CollectionLine",
    "CollectionItem",
    "ReversalRequest",
    "LoanChange",
    "FeeSchedule",
    "FeeReduction",
    "LoanUseCheck",
    "GroupInspection",
]
