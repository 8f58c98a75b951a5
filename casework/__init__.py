"""casework: an event-sourced case-workflow engine.

>>> from casework import Casework, Actor
>>> app = Casework("sqlite:///:memory:")
"""

from .actor import SYSTEM, Actor
from .application import Casework, DuplicateCase
from .errors import (
    CaseworkError,
    ConcurrencyConflict,
    ForgetDenied,
    GuardRefused,
    IllegalTransition,
    InvalidField,
    OrganisationError,
    PermissionDenied,
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
    "Organisation",
    "OrganisationError",
    "PermissionDenied",
    "StorageError",
    "UnknownCase",
    "UnknownPerson",
    "UnknownTrigger",
    "UnknownWorkflow",
    "WorkflowDefinitionError",
    "WorkflowRegistry",
]
