"""Database work within a time budget: the visitor never waits for a paused Aurora.

The work runs in a daemon thread. Within the budget its result (or its error) is the answer;
past it the caller answers another way (the snapshot, the outbox) and the thread goes on:
its connection attempt is what wakes a paused Aurora Serverless v2 cluster, which resumes
when a connection is requested
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html).
An abandoned thread sees `abandoned` set, so a write it has not committed yet is rolled back
instead of racing the path the caller took.

In Lambda the environment is frozen between invocations: the thread then continues in the
next one. A daemon thread never holds up the interpreter's exit.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OverBudgetError(Exception):
    """The work did not finish within the budget; it goes on in its thread."""


class AbandonedError(Exception):
    """Raised by work that finds `abandoned` set before it commits (it is rolled back)."""


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.abandoned = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


def attempt(work: Callable[[threading.Event], T], budget_seconds: float) -> T:
    """`work(abandoned)`'s result if it ends within `budget_seconds`, its exception if it
    fails within them, else OverBudgetError (and `abandoned` is set for the thread to see)."""
    outcome: _Outcome[T] = _Outcome()
    # The caller's context (the request's database deadline) goes with the work.
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome.value = context.run(work, outcome.abandoned)
        except BaseException as error:
            outcome.error = error
        finally:
            outcome.done.set()

    threading.Thread(target=run, name="db-attempt", daemon=True).start()
    if not outcome.done.wait(budget_seconds):
        outcome.abandoned.set()
        raise OverBudgetError
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]
