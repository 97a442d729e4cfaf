"""Mutation fuzzing of direct invocations: copies of every sample event in events/, each with
a few random changes (a value replaced by another type, a lone surrogate or non-ASCII text, a
key dropped or added, a body flagged base64), sent to the Lambda handler in-process against
the suite's PostgreSQL. Whatever arrives, the answer is a response, never an exception, and
never a 500: a malformed event is the caller's error (4xx).

Bounded for the fast suite: MUTATIONS_PER_EVENT copies of each event, from a fixed seed. The
long run is behind the slow marker (EVENT_MUTATIONS copies in all, 23,000 by default, from a
random seed that a failure prints):

    .venv/bin/python -m pytest -m slow tests/reliability/test_event_mutations.py
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import EVENTS, lambda_context

MUTATIONS_PER_EVENT = 4
SAMPLES = sorted(
    str(path.relative_to(EVENTS))
    for path in EVENTS.rglob("*.json")
    if path.name != "expected-status.json"
)
# Values of every JSON type, and text that has broken handlers before.
REPLACEMENTS: list[Any] = [
    None,
    0,
    -1,
    2**63,
    1.5,
    True,
    False,
    "",
    " ",
    "\ud800",
    "\udfff\ud800",
    "é",
    "\U0001d11e",
    "\x00",
    "a" * 5000,
    "::1",
    "999.999.999.999",
    "/",
    "%",
    "=?",
    [],
    ["a"],
    [None],
    {},
    {"a": "b"},
    {"": None},
]


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*here, index))


def _mutate(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(event) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = event
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        kind = rng.random()
        if kind < 0.45:
            parent[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif kind < 0.65 and isinstance(parent[key], str):
            text: str = parent[key]
            at = rng.randint(0, len(text))
            insert = rng.choice(["\ud800", "\udc00", "é", "\U0001f600", "\x00", "\n", ","])
            parent[key] = text[:at] + insert + text[at:]
        elif kind < 0.8 and isinstance(parent, dict):
            del parent[key]
        elif kind < 0.9 and isinstance(parent, dict):
            parent[rng.choice(["x-extra", "isBase64Encoded", "cookies", "sourceIp", "\ud800"])] = (
                copy.deepcopy(rng.choice(REPLACEMENTS))
            )
        else:
            event["isBase64Encoded"] = True
            if rng.random() < 0.5:
                event["body"] = rng.choice(["aGVsbG8=é", "not base64!", "aGVsbG8", "\ud800"])
    return event


def _check(adapter: Any, name: str, event: dict[str, Any]) -> None:
    described = f"{name}: {json.dumps(event)[:2000]}"
    try:
        response = adapter.handle(event, lambda_context())
    except Exception as error:  # the test's point: nothing may escape the handler
        raise AssertionError(f"raised {type(error).__name__} for {described}") from error
    assert isinstance(response, dict) and isinstance(response.get("statusCode"), int), described
    status = response["statusCode"]
    assert status < 500 or status == 503, f"{status} for {described}: {response.get('body')}"
    json.dumps(response)  # what the runtime does with it


@pytest.fixture
def adapter(make_client: Any, clean_db: Engine) -> Any:
    # Many messages from the same few addresses: the per-client limit is not under test.
    return make_client(contact_rate_limit=10_000).adapter


def _run(adapter: Any, count: int, seed: int) -> None:
    rng = random.Random(seed)
    originals = {name: json.loads((EVENTS / name).read_text()) for name in SAMPLES}
    for n in range(count):
        name = SAMPLES[n % len(SAMPLES)]
        original = originals[name]
        event = _mutate(original, rng) if isinstance(original, dict) else original
        _check(adapter, f"{name} (seed {seed}, copy {n})", event)


def test_mutated_sample_events_never_crash_or_500(adapter: Any) -> None:
    _run(adapter, MUTATIONS_PER_EVENT * len(SAMPLES), seed=17)


def test_the_two_crashes_the_long_run_found(adapter: Any) -> None:
    event = json.loads((EVENTS / "http-v2/post-contact.json").read_text())
    non_ascii_base64 = {**event, "isBase64Encoded": True, "body": "aGVsbG8=é"}
    lone_surrogate_ip = copy.deepcopy(event)
    lone_surrogate_ip["requestContext"]["http"]["sourceIp"] = "\ud800"
    for case in (non_ascii_base64, lone_surrogate_ip):
        response = adapter.handle(case, lambda_context())
        assert response["statusCode"] == 400, response


@pytest.mark.slow
def test_mutated_sample_events_at_length(adapter: Any) -> None:
    seed = random.SystemRandom().randrange(2**32)
    _run(adapter, int(os.environ.get("EVENT_MUTATIONS", "23000")), seed=seed)
