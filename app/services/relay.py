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
"""
import json
import logging
import os
import socket
import time
import uuid

import gevent
from redis import Redis
from redis.exceptions import RedisError

from app.ocpp.failures import CallTimeout, CommandFailed, NotConnected

logger = logging.getLogger(__name__)

CONNECTIONS = "ocpp:connections"
NODE = "ocpp:node:{}"
INBOX = "ocpp:inbox:{}"
REPLY = "ocpp:reply:{}"

# Deletes the hash entry only if it is still this connection's (a newer one may have replaced it).
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


class RedisRelay:
    def __init__(self, redis: Redis, node_ttl: float = 15.0):
        self.redis = redis
        self.node_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.node_ttl = node_ttl
        self._release = redis.register_script(_RELEASE)

    # --- the registry ---

    def claim(self, charge_point_id: str, token: str) -> None:
        """Record that this process holds the charge point; the process that held it closes its socket."""
        value = f"{self.node_id} {token}"
        previous = self.redis.hget(CONNECTIONS, charge_point_id)
        self.redis.hset(CONNECTIONS, charge_point_id, value)
        if previous:
            node, old_token = previous.decode().split(" ", 1)
            if node != self.node_id:
                self._push(node, {"kind": "close", "chargePointId": charge_point_id, "token": old_token,
                                  "reason": "replaced by a newer connection of the same charge point"})

    def release(self, charge_point_id: str, token: str) -> None:
        self._release(keys=[CONNECTIONS], args=[charge_point_id, f"{self.node_id} {token}"])

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

    def _push(self, node: str, request: dict) -> None:
        inbox = INBOX.format(node)
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.rpush(inbox, json.dumps(request))
        pipeline.expire(inbox, 300)  # a dead process's inbox does not linger
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
        gevent.spawn(self._keep_alive)
        gevent.spawn(self._serve_inbox, connections)

    def _keep_alive(self) -> None:
        while True:
            try:
                self.redis.set(NODE.format(self.node_id), str(os.getpid()), ex=max(1, round(self.node_ttl)))
            except RedisError as error:
                logger.warning("cannot reach Redis to stay registered: %s", error)
            gevent.sleep(self.node_ttl / 3)

    def _serve_inbox(self, connections) -> None:
        inbox = INBOX.format(self.node_id)
        while True:
            try:
                item = self.redis.blpop([inbox], timeout=1)
            except RedisError as error:
                logger.warning("cannot read the command inbox from Redis: %s", error)
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
        pipeline.execute()

    def leave(self) -> None:
        """On shutdown: this process holds nothing any more (its sessions released their entries)."""
        self.redis.delete(NODE.format(self.node_id))
