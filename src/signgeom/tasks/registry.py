"""The known tasks and the task a model belongs to (model names are unique across tasks)."""

from __future__ import annotations

from signgeom.tasks.base import Task
from signgeom.tasks.charlm.task import CharLMTask
from signgeom.tasks.cifar.task import Cifar10Task

TASKS: dict[str, Task] = {t.name: t for t in (Cifar10Task(), CharLMTask())}


def task_for_model(model: str) -> Task:
    """The registered task with a model named ``model`` (``ValueError`` listing all models)."""
    for task in TASKS.values():
        if model in task.models:
            return task
    known = {name: sorted(task.models) for name, task in TASKS.items()}
    raise ValueError(f"unknown model {model!r}; models by task: {known}")


def all_models() -> list[str]:
    """Every registered task's model names."""
    return sorted(m for task in TASKS.values() for m in task.models)
