"""All known workflow versions, by name: new cases take the latest, old cases keep theirs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from workflows import DEFINITIONS, definition_files

from .compiler import load_workflow
from .errors import UnknownWorkflow, WorkflowDefinitionError
from .workflow import Workflow

EXTRA_ENV = "CASEWORK_WORKFLOWS"


class WorkflowRegistry:
    def __init__(self, workflows: Iterable[Workflow]) -> None:
        self._versions: dict[str, dict[int, Workflow]] = {}
        for workflow in workflows:
            versions = self._versions.setdefault(workflow.name, {})
            if workflow.version in versions:
                raise WorkflowDefinitionError(
                    f"{workflow.source}: {workflow.key} is also defined in "
                    f"{versions[workflow.version].source}"
                )
            versions[workflow.version] = workflow
        for workflow in self:
            for trigger in workflow.triggers.values():
                if trigger.spawns is not None and trigger.spawns not in self._versions:
                    raise WorkflowDefinitionError(
                        f"{workflow.source}: trigger {trigger.name!r}: spawns unknown workflow "
                        f"{trigger.spawns!r}"
                    )

    @classmethod
    def default(cls) -> WorkflowRegistry:
        """The shipped definitions, plus those in the folders $CASEWORK_WORKFLOWS names
        (separated by the path separator): where a site keeps its own versions."""
        extra = [Path(p) for p in os.environ.get(EXTRA_ENV, "").split(os.pathsep) if p]
        files = definition_files(DEFINITIONS)
        for directory in extra:
            if not directory.is_dir():
                raise WorkflowDefinitionError(f"{directory} (in ${EXTRA_ENV}) is not a folder")
            files += definition_files(directory)
        return cls(load_workflow(path) for path in files)

    @classmethod
    def from_directory(cls, directory: str | Path = DEFINITIONS) -> WorkflowRegistry:
        files = definition_files(directory)
        if not files:
            raise WorkflowDefinitionError(f"{directory}: no workflow definitions (*.toml)")
        return cls(load_workflow(path) for path in files)

    def get(self, name: str, version: int | None = None) -> Workflow:
        versions = self._versions.get(name) if isinstance(name, str) else None
        if not versions:
            raise UnknownWorkflow(name, version, known=self._versions)
        if version is None:
            return versions[max(versions)]
        try:
            return versions[version]
        except (KeyError, TypeError):  # TypeError: a version that is not even a number
            raise UnknownWorkflow(name, version, known=self._versions) from None

    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, name: str) -> list[int]:
        return sorted(self._versions.get(name, {}))

    def __iter__(self) -> Iterator[Workflow]:
        for name in self.names():
            yield from (self._versions[name][v] for v in sorted(self._versions[name]))
