"""The contact outbox: messages accepted while the database is away, moved in exactly once.

One object per accepted message, `outbox/<client>/<name>.json`, written create-only
(`If-None-Match: *`): `<client>` is the rate-limit table's keyed hash of the sender's
address, `<name>` the message id, or the stored digest of its Idempotency-Key, so a retry
with the same key finds the first message instead of writing a second.

- Per-client limit while the database is away: a client may have CONTACT_RATE_LIMIT messages
  waiting in the outbox (one LIST of its prefix); more get 429. Once drained, they count in
  the database's window like any message, so the limit holds across the outage.
- Draining (an admin inbox read, the next database success of the environment that wrote,
  the deploy): per object, one transaction inserts the message with ON CONFLICT DO NOTHING on
  its id, and records its Idempotency-Key answer the same way; the object is deleted after
  the commit. Two drains at once insert it once (the second waits on the first's row and
  then does nothing); a crash before the delete leaves an object the next drain deletes.
- The owner's notification (the ContactMessageReceived metric the alarm watches) is counted
  by the drain whose insert stored the row: once per message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from app import counters
from app.data import crud
from app.data.tables import contact_messages, idempotency_keys
from app.fallback.store import ObjectStore, PreconditionFailedError
from app.settings import Settings

PREFIX = "outbox/"
# Idempotency-Key records (`keys/<client>/<key digest>.json`: the message id and request
# hash), written when a keyed message is stored by either path, so a retry that meets the
# other path replays too. The bucket's lifecycle expires them after a day, like the
# database's keys (app/data/idempotency.py).
KEYS_PREFIX = "keys/"
SCOPE = "POST /contact"
# Objects moved per drain: enough for any outage of a portfolio's contact form.
DRAIN_BATCH = 200

logger = logging.getLogger("app.outbox")


# The folder of messages from a caller the host gave no address for (never limited).
ANONYMOUS = "anonymous"


def key_of(client: str | None, name: str) -> str:
    return f"{PREFIX}{client or ANONYMOUS}/{name}.json"


def accept(
    store: ObjectStore,
    *,
    message_id: str,
    message: dict[str, str],
    client: str | None,
    stored_key: str | None,
    body_hash: str,
    limit: int | None,
) -> dict[str, Any] | JSONResponse:
    """Keep the message in the outbox; its receipt, or the first answer for a reused key.

    Raises HTTPException 429 when the client already has `limit` messages waiting, 422 when
    the Idempotency-Key came with another message.
    """
    key = key_of(client, stored_key or message_id)
    if stored_key is not None:
        replayed = _replay(store, key, body_hash)
        if replayed is not None:
            return replayed
    if client is not None and limit is not None:
        waiting = store.list(f"{PREFIX}{client}/", limit=limit)
        if len(waiting) >= limit:
            raise HTTPException(
                429, "too many messages, try again later", headers={"Retry-After": "60"}
            )
    document = {
        "id": message_id,
        **message,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "client": client,
        "idempotency": None
        if stored_key is None
        else {"key": stored_key, "request_hash": body_hash},
    }
    try:
        store.put(key, json.dumps(document).encode(), if_none_match=True)
    except PreconditionFailedError:
        # The same key, sent twice at once: the other one's message is the message.
        replayed = _replay(store, key, body_hash)
        if replayed is not None:
            return replayed
        raise
    return {"id": message_id, "status": "received"}


def _replay(store: ObjectStore, key: str, body_hash: str) -> JSONResponse | None:
    """The first answer for a keyed message waiting at `key` or recorded under keys/."""
    found = store.get(key)
    if found is None:
        found = store.get(KEYS_PREFIX + key.removeprefix(PREFIX))
    if found is None:
        return None
    document = json.loads(found.body)
    if (document.get("idempotency") or {}).get("request_hash") != body_hash:
        raise HTTPException(422, "Idempotency-Key was already used with a different request body")
    return JSONResponse({"id": document["id"], "status": "received"}, status_code=202)


def waiting_for_key(
    store: ObjectStore, client: str | None, stored_key: str | None, body_hash: str
) -> JSONResponse | None:
    """The database path's check: a keyed message may already wait in the outbox."""
    if stored_key is None:
        return None
    return _replay(store, key_of(client, stored_key), body_hash)


def remember_key(
    store: ObjectStore, *, client: str | None, stored_key: str, body_hash: str, message_id: str
) -> None:
    """Record a keyed message's answer where the outbox path looks (create-only)."""
    record = {"id": message_id, "idempotency": {"key": stored_key, "request_hash": body_hash}}
    # Recorded already: a drain after a crash, or the other path.
    with contextlib.suppress(PreconditionFailedError):
        store.put(
            KEYS_PREFIX + key_of(client, stored_key).removeprefix(PREFIX),
            json.dumps(record).encode(),
            if_none_match=True,
        )


def drain(engine: Engine, store: ObjectStore, sink: counters.Counters, settings: Settings) -> int:
    """Move waiting messages into the database; how many this call stored."""
    stored = 0
    for key in store.list(PREFIX, limit=DRAIN_BATCH):
        found = store.get(key)
        if found is None:
            continue  # another drain moved it
        document = json.loads(found.body)
        with engine.begin() as conn:
            inserted = _store(conn, document, settings)
        if inserted:
            sink.count(counters.CONTACT_MESSAGE_RECEIVED)
            stored += 1
        keyed = document.get("idempotency")
        if keyed:
            remember_key(
                store,
                client=document["client"],
                stored_key=keyed["key"],
                body_hash=keyed["request_hash"],
                message_id=document["id"],
            )
        store.delete(key)
    return stored


def _store(conn: Connection, document: dict[str, Any], settings: Settings) -> bool:
    """Insert one outbox message (and its key's answer) unless it is already stored."""
    created_at = dt.datetime.fromisoformat(document["created_at"])
    keyed = document.get("idempotency")
    if keyed:
        receipt = {"id": document["id"], "status": "received"}
        conn.execute(
            crud.dialect_insert(conn, idempotency_keys)
            .values(
                key=keyed["key"],
                scope=SCOPE,
                request_hash=keyed["request_hash"],
                status_code=202,
                response=receipt,
                created_at=created_at,
            )
            .on_conflict_do_nothing()
        )
        answered = conn.execute(
            select(idempotency_keys.c.response).where(
                idempotency_keys.c.key == keyed["key"], idempotency_keys.c.scope == SCOPE
            )
        ).scalar_one()
        if answered.get("id") != document["id"]:
            return False  # the database path stored this key's message first
    inserted = conn.execute(
        crud.dialect_insert(conn, contact_messages)
        .values(
            id=document["id"],
            name=document["name"],
            email=document["email"],
            message=document["message"],
            created_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=[contact_messages.c.id])
        .returning(contact_messages.c.id)
    ).first()
    if inserted is None:
        return False
    if not document["client"]:
        return True
    # Counted in the client's window, so the limit holds across the outage. Imported here:
    # nothing before a message needs it (a cold start's public read does not).
    from app.data import ratelimit

    ratelimit.hit(
        conn,
        client=document["client"],
        limit=settings.contact_rate_limit,
        window=dt.timedelta(seconds=settings.contact_rate_window_seconds),
        now=dt.datetime.now(dt.UTC),
    )
    return True


def drain_if_pending(engine: Engine, fallback: Any, app: Any) -> None:
    """After a database success: drain if this environment wrote to the outbox."""
    if not fallback.outbox_pending.is_set():
        return
    fallback.outbox_pending.clear()
    try:
        drain(engine, fallback.store, counters.for_app(app), app.state.settings)
    except Exception as error:
        fallback.outbox_pending.set()
        logger.warning("outbox not drained: %s", type(error).__name__)
