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


class Breaker:
    """Open while an attempt that went over budget is still running in its thread.

    During a pause every attempt would wait the whole budget and then fall back; while one
    attempt of this environment is still waiting for the database (it is what wakes it), the
    next visitors are answered from the fallback at once instead. The attempt's end, success
    or failure, closes it: the first success means the database answers again.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._running = 0

    def is_open(self) -> bool:
        with self.lock:
            return self._running > 0

    def _trip(self) -> None:  # called with `lock` held
        self._running += 1

    def _release(self) -> None:  # called with `lock` held
        self._running -= 1


class BreakerOpenError(OverBudgetError):
    """Not attempted: an earlier attempt is still waiting for the database."""


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.abandoned = threading.Event()
        self.tripped = False
        self.value: T | None = None
        self.error: BaseException | None = None


def attempt(
    work: Callable[[threading.Event], T], budget_seconds: float, breaker: Breaker | None = None
) -> T:
    """`work(abandoned)`'s result if it ends within `budget_seconds`, its exception if it
    fails within them, else OverBudgetError (and `abandoned` is set for the thread to see).

    With a `breaker`: BreakerOpenError at once, without running `work`, while an earlier
    attempt is still over budget; an attempt that goes over budget opens it until it ends.
    """
    if breaker is not None and breaker.is_open():
        raise BreakerOpenError
    outcome: _Outcome[T] = _Outcome()
    guard = breaker.lock if breaker is not None else threading.Lock()
    # The caller's context (the request's database deadline) goes with the work.
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome.value = context.run(work, outcome.abandoned)
        except BaseException as error:
            outcome.error = error
        finally:
            with guard:
                outcome.done.set()
                if outcome.tripped and breaker is not None:
                    breaker._release()

    threading.Thread(target=run, name="db-attempt", daemon=True).start()
    if not outcome.done.wait(budget_seconds):
        with guard:
            # Checked under the lock: an attempt ending right now must not leave it open.
            if not outcome.done.is_set():
                outcome.abandoned.set()
                if breaker is not None:
                    outcome.tripped = True
                    breaker._trip()
                raise OverBudgetError
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]
