"""The charge point connections of every process, through Redis: who holds which charge point, and
CALLs relayed to the process that holds it.

Keys:
    ocpp:connections        hash: charge point id -> "<node id> <connection token>"
    ocpp:node:<node id>     exists while that process lives (refreshed; expires NODE_TTL after a crash)
    ocpp:inbox:<node id>    list of requests for that process (call, close)
    ocpp:reply:<uuid>       list of the replies to one batch of requests

A process that holds WebSockets (a web worker) serves its inbox; any process (a web worker, the RQ
worker) can send. A charge point whose process died stops counting as connected when that process's
node key expires.

The registry's writes (claims and releases) of all the connections that come and go at once, as in a
reconnect storm, go to Redis together: one round trip per batch, not two per connection. A process
that finds its node key gone when it refreshes it (Redis restarted empty, or was away longer than the
key lives) records again every charge point it holds; a release that failed is retried then too.
"""
import json
import logging
import os
import socket
import time
import uuid

import gevent
from gevent.event import AsyncResult
from gevent.queue import Queue
from redis import Redis
from redis.exceptions import RedisError

from app.outages import FailureLog
from app.spec.failures import CallTimeout, CommandFailed, NotConnected

logger = logging.getLogger(__name__)

CONNECTIONS = "ocpp:connections"
NODE = "ocpp:node:{}"
INBOX = "ocpp:inbox:{}"
REPLY = "ocpp:reply:{}"

# ARGV: charge point id, value, charge point id, value...: sets each, returns the values they replace.
_CLAIM = """
local replaced = {}
for i = 1, #ARGV, 2 do
  replaced[#replaced + 1] = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return replaced
"""
# Deletes each hash entry only if it is still that connection's (a newer one may have replaced it).
_RELEASE = """
local released = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    released = released + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return released
"""
MAX_BATCH = 1000


class RedisRelay:
    def __init__(self, redis: Redis, node_ttl: float = 15.0):
        self.redis = redis
        self.node_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.node_ttl = node_ttl
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._writes: Queue = Queue()
        self._writer: gevent.Greenlet | None = None
        self._unreleased: dict[str, str] = {}  # charge point id -> value, to release once Redis answers
        self._refresh_failures = FailureLog("cannot reach Redis to keep this process registered")
        self._inbox_failures = FailureLog("cannot read this process's command inbox from Redis")

    # --- the registry ---

    def claim(self, charge_point_id: str, token: str) -> None:
        """Record that this process holds the charge point; the process that held it closes its socket.
        Raises RedisError when Redis cannot record it."""
        self._write("claim", charge_point_id, token).get()

    def release(self, charge_point_id: str, token: str) -> None:
        """Forget the connection (unless a newer one replaced it); without waiting, and retried later
        while Redis is unavailable."""
        self._write("release", charge_point_id, token)

    def _write(self, kind: str, charge_point_id: str, token: str) -> AsyncResult:
        if self._writer is None or self._writer.dead:
            self._writer = gevent.spawn(self._write_forever)
        done = AsyncResult()
        self._writes.put((kind, charge_point_id, f"{self.node_id} {token}", done))
        return done

    def _write_forever(self) -> None:
        while True:
            batch = [self._writes.get()]
            while len(batch) < MAX_BATCH and not self._writes.empty():
                batch.append(self._writes.get_nowait())
            try:
                self._write_batch(batch)
            except Exception as error:  # (any: a claim waiting here must not wait forever)
                for kind, charge_point_id, value, done in batch:
                    if kind == "release":
                        self._unreleased[charge_point_id] = value
                    done.set_exception(error)
            else:
                for *_, done in batch:
                    done.set()

    def _write_batch(self, batch: list) -> None:
        claims = [(charge_point_id, value) for kind, charge_point_id, value, _ in batch if kind == "claim"]
        releases = [(charge_point_id, value) for kind, charge_point_id, value, _ in batch if kind == "release"]
        pipeline = self.redis.pipeline(transaction=False)
        if claims:
            self._claim(keys=[CONNECTIONS], args=[item for claim in claims for item in claim], client=pipeline)
        if releases:
            self._release(keys=[CONNECTIONS], args=[item for release in releases for item in release], client=pipeline)
        replaced = pipeline.execute()[0] if claims else []
        closes = self.redis.pipeline(transaction=False)
        for (charge_point_id, _), previous in zip(claims, replaced):
            node, _, old_token = (previous.decode() if previous else "").partition(" ")
            if node and node != self.node_id:
                self._push(node, {"kind": "close", "chargePointId": charge_point_id, "token": old_token,
                                  "reason": "replaced by a newer connection of the same charge point"}, closes)
        try:
            closes.execute()
        except RedisError as error:  # the claims hold; the replaced connections are dead or die of their own
            logger.warning("cannot ask other processes to close replaced connections: %s", error)

    def register_again(self, tokens: dict[str, str]) -> int:
        """Record the connections held here where the registry has none (Redis lost them); how many."""
        registered = 0
        items = list(tokens.items())
        for start in range(0, len(items), MAX_BATCH):
            pipeline = self.redis.pipeline(transaction=False)
            for charge_point_id, token in items[start:start + MAX_BATCH]:
                pipeline.hsetnx(CONNECTIONS, charge_point_id, f"{self.node_id} {token}")
            registered += sum(pipeline.execute())
            gevent.sleep(0)
        return registered

    def _release_leftovers(self) -> None:
        """Release again what could not be released while Redis was unavailable."""
        leftovers, self._unreleased = self._unreleased, {}
        try:
            if leftovers:
                self._release(keys=[CONNECTIONS], args=[item for entry in leftovers.items() for item in entry])
        except RedisError:
            self._unreleased = {**leftovers, **self._unreleased}
            raise

    def _live_nodes(self, nodes: set[str]) -> set[str]:
        nodes = list(nodes)
        if not nodes:
            return set()
        alive = self.redis.pipeline(transaction=False)
        for node in nodes:
            alive.exists(NODE.format(node))
        return {node for node, exists in zip(nodes, alive.execute()) if exists}

    def holders(self, charge_point_ids: list[str]) -> dict[str, str]:
        """The live process holding each charge point that is connected anywhere."""
        if not charge_point_ids:
            return {}
        values = self.redis.hmget(CONNECTIONS, charge_point_ids)
        nodes = {charge_point_id: value.decode().split(" ", 1)[0]
                 for charge_point_id, value in zip(charge_point_ids, values) if value}
        alive = self._live_nodes(set(nodes.values()))
        return {charge_point_id: node for charge_point_id, node in nodes.items() if node in alive}

    def connected_ids(self) -> set[str]:
        entries = {key.decode(): value.decode().split(" ", 1)[0] for key, value in self.redis.hgetall(CONNECTIONS).items()}
        alive = self._live_nodes(set(entries.values()))
        return {charge_point_id for charge_point_id, node in entries.items() if node in alive}

    # --- sending ---

    def _push(self, node: str, request: dict, pipeline=None) -> None:
        """Put a request in the node's inbox (with `pipeline`: when it is executed)."""
        inbox = INBOX.format(node)
        own = pipeline is None
        pipeline = self.redis.pipeline(transaction=False) if own else pipeline
        pipeline.rpush(inbox, json.dumps(request))
        pipeline.expire(inbox, 300)  # a dead process's inbox does not linger
        if own:
            pipeline.execute()

    def call_many(self, calls: list[tuple[str, str, dict]], timeout: float) -> list[dict | CommandFailed]:
        """Relay CALLs to the processes holding the charge points; each result is the CALLRESULT payload
        or the CommandFailed it came to. The processes carry them out side by side."""
        results: list[dict | CommandFailed | None] = [None] * len(calls)
        holders = self.holders(list({charge_point_id for charge_point_id, _, _ in calls}))
        reply_key = REPLY.format(uuid.uuid4().hex)
        deadline = time.monotonic() + timeout
        pending = 0
        for index, (charge_point_id, action, payload) in enumerate(calls):
            node = holders.get(charge_point_id)
            if node is None:
                results[index] = NotConnected(charge_point_id)
                continue
            self._push(node, {"kind": "call", "id": index, "chargePointId": charge_point_id, "action": action,
                              "payload": payload, "timeout": timeout, "replyTo": reply_key})
            pending += 1
        while pending:
            # A second's slack, so that the holder's own timeout (the same) answers first.
            remaining = deadline + 1 - time.monotonic()
            answer = self.redis.blpop([reply_key], timeout=remaining) if remaining > 0 else None
            if answer is None:
                break
            reply = json.loads(answer[1])
            results[reply["id"]] = reply["ok"] if "ok" in reply else CommandFailed.from_dict(reply["failure"])
            pending -= 1
        self.redis.delete(reply_key)
        return [result if result is not None else CallTimeout(calls[index][0], calls[index][1], timeout)
                for index, result in enumerate(results)]

    def close(self, charge_point_id: str, reason: str, silent_for: float | None = None) -> bool:
        """Ask the process holding the charge point to close its connection (with silent_for, only if it
        heard nothing from it for that long); False when none holds it."""
        node = self.holders([charge_point_id]).get(charge_point_id)
        if node is None:
            return False
        self._push(node, {"kind": "close", "chargePointId": charge_point_id, "reason": reason,
                          "silentFor": silent_for})
        return True

    # --- serving (a process that holds WebSockets) ---

    def serve(self, connections) -> None:
        """Keep this process registered and carry out the requests of its inbox; runs in greenlets."""
        gevent.spawn(self._keep_alive, connections)
        gevent.spawn(self._serve_inbox, connections)

    def _keep_alive(self, connections) -> None:
        while True:
            try:
                self.refresh(connections)
                self._refresh_failures.succeeded()
            except RedisError as error:
                self._refresh_failures.failed(error)
            gevent.sleep(self.node_ttl / 3)

    def refresh(self, connections) -> None:
        """Refresh this process's node key; where it had gone, record again the charge points held here."""
        node_key = NODE.format(self.node_id)
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.set(node_key, str(os.getpid()), nx=True)
        pipeline.expire(node_key, max(1, round(self.node_ttl)))
        created, _ = pipeline.execute()
        self._release_leftovers()
        tokens = connections.tokens()
        registered = self.register_again(tokens) if created and tokens else 0
        if registered:
            logger.warning("Redis had lost this process's registration (restarted empty, or away longer than "
                           "%g s): %d of the %d charge points held here registered again", self.node_ttl,
                           registered, len(tokens))

    def _serve_inbox(self, connections) -> None:
        inbox = INBOX.format(self.node_id)
        while True:
            try:
                item = self.redis.blpop([inbox], timeout=1)
                self._inbox_failures.succeeded()
            except RedisError as error:
                self._inbox_failures.failed(error)
                gevent.sleep(1)
                continue
            if item is not None:
                gevent.spawn(self._carry_out, connections, json.loads(item[1]))

    def _carry_out(self, connections, request: dict) -> None:
        charge_point_id = request["chargePointId"]
        if request["kind"] == "close":
            connections.close_local(charge_point_id, request["reason"], request.get("token"), request.get("silentFor"))
            return
        try:
            reply = {"id": request["id"], "ok": connections.call_local(
                charge_point_id, request["action"], request["payload"], request["timeout"])}
        except CommandFailed as failure:
            reply = {"id": request["id"], "failure": failure.to_dict()}
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.rpush(request["replyTo"], json.dumps(reply))
        pipeline.expire(request["replyTo"], 60)
        try:
            pipeline.execute()
        except RedisError as error:  # the sender times out
            logger.warning("%s: the answer to %s cannot be relayed: %s", charge_point_id, request["action"], error)

    def leave(self) -> None:
        """On shutdown: this process holds nothing any more (its sessions released their entries)."""
        try:
            self.redis.delete(NODE.format(self.node_id))
        except RedisError as error:  # the node key expires by itself
            logger.warning("cannot remove this process's registration from Redis: %s", error)
