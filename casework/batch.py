"""Many commands, saved together: one transaction per so many changed cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from .actor import Actor
from .case import Case
from .commands import Commands
from .errors import UnknownCase
from .personal import PersonKeys
from .registry import WorkflowRegistry
from .views import CaseView
from .workflow import Workflow


class Engine(Protocol):
    """What a batch needs of the application (``casework.Casework`` is one)."""

    commands: Commands
    workflows: WorkflowRegistry
    personal: PersonKeys
    clock: Callable[[], datetime]

    def load_case(self, case_id: UUID) -> Case: ...
    def view_of(self, case: Case) -> CaseView: ...
    def workflow_of(self, case: Case | CaseView) -> Workflow: ...
    def parse_case_id(self, case_id: UUID | str) -> UUID: ...
    def save(self, *objs: Any, **kwargs: Any) -> Any: ...


class Batch:
    """Commands whose events are saved together: one transaction per ``size`` changed cases.

    A refused command raises as usual and records nothing; the batch goes on. Commands in a
    batch see the cases the batch changed before they are saved. Call ``commit`` at the end.

    >>> from casework import Casework, Actor
    >>> app = Casework("sqlite:///:memory:")
    >>> batch = app.batch()
    >>> ids = [batch.open_case("volunteer_task", Actor("o", ["organiser"]), title=str(n))
    ...        for n in range(3)]
    >>> batch.commit()
    3
    """

    def __init__(self, app: Engine, size: int = 1000) -> None:
        self.app = app
        self.size = size
        self._pending: dict[UUID, Case] = {}
        self._unchanged: Case | None = None

    def open_case(self, kind: str, actor: Actor, at: datetime | str | None = None, *,
                  case_id: UUID | None = None, person: str | UUID | None = None,
                  **fields: Any) -> UUID:
        case = self.app.commands.open(kind, actor, at, fields, case_id, self.find,
                                      person=person)
        self._changed([case])
        return case.id

    def fire(self, case_id: UUID | str, trigger: str, actor: Actor,
             at: datetime | str | None = None, *, job: str | None = None,
             expected_version: int | None = None, **fields: Any) -> CaseView:
        """As ``Casework.fire``; ``job`` names the batch job firing it (recorded on the case)."""
        case = self.load(self.app.parse_case_id(case_id))
        self._changed(self.app.commands.fire(case, trigger, actor, at, fields, self.find, job,
                                             expected_version))
        return self.app.view_of(case)

    def migrate(self, case_id: UUID, to_version: int, actor: Actor,
                at: datetime | str | None = None) -> CaseView:
        """Move a case to another version of its workflow, by the state mapping that version
        declares (a state of the same name maps to itself)."""
        case = self.load(case_id)
        self.app.commands.migrate(case, to_version, actor, at)
        self._changed([case])
        return self.app.view_of(case)

    def load(self, case_id: UUID) -> Case:
        """The case as this batch has it. The last case loaded and not changed is kept, so
        that a job which looks at a case and then fires on it reads it from storage once."""
        case = self._pending.get(case_id)
        if case is not None:
            return case
        if self._unchanged is None or self._unchanged.id != case_id:
            self._unchanged = self.app.load_case(case_id)
        return self._unchanged

    def find(self, case_id: str) -> Case | None:
        try:
            return self.load(self.app.parse_case_id(case_id))
        except UnknownCase:
            return None

    def changed_cases(self) -> list[Case]:
        """The cases changed and not saved yet, with their new events."""
        return list(self._pending.values())

    def commit(self) -> int:
        """Save every pending event in one transaction; returns how many cases it saved."""
        saved = len(self._pending)
        if saved:
            self.app.save(*self._pending.values())
            self._pending.clear()
        return saved

    def discard(self) -> None:
        """Forget the changes not saved yet (a dry run, or a transaction to decide again),
        and the keys of new persons they would have stored."""
        self._pending.clear()
        self._unchanged = None
        self.app.personal.drop_new()

    def _changed(self, cases: list[Case]) -> None:
        self._unchanged = None  # changed: it is pending now
        for case in cases:
            self._pending[case.id] = case
        if len(self._pending) >= self.size:
            self.commit()
