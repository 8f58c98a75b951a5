"""casework: an event-sourced case-workflow engine.

>>> from casework import Casework, Actor
>>> app = Casework("sqlite:///:memory:")
"""

from .actor import SYSTEM, Actor
from .application import Casework
from .batch import Batch
from .errors import (
    CaseworkError,
    ConcurrencyConflict,
    DuplicateCase,
    ForgetDenied,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    NotMigratable,
    OrganisationError,
    PermissionDenied,
    StaleCase,
    StorageError,
    UnknownCase,
    UnknownPerson,
    UnknownTrigger,
    UnknownWorkflow,
    WorkflowDefinitionError,
)
from .organisation import Organisation
from .registry import WorkflowRegistry
from .views import CaseView, HistoryEntry

__all__ = [
    "SYSTEM",
    "Actor",
    "Batch",
    "CaseView",
    "Casework",
    "CaseworkError",
    "ConcurrencyConflict",
    "DuplicateCase",
    "ForgetDenied",
    "GuardRefused",
    "HistoryEntry",
    "IllegalTransition",
    "InvalidField",
    "NotMigratable",
    "Organisation",
    "OrganisationError",
    "PermissionDenied",
    "StaleCase",
    "StorageError",
    "UnknownCase",
    "UnknownPerson",
    "UnknownTrigger",
    "UnknownWorkflow",
    "WorkflowDefinitionError",
    "WorkflowRegistry",
]
