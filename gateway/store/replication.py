"""Writes acknowledged to the outside only once replicas hold them (`[redis] wait_replicas`).

Redis replicates asynchronously: a write the master confirmed can be lost if the master dies
before a replica received it, and Sentinel then promotes that replica. Where hoso tells someone
"recorded" (a department's event or a scan answered 2xx, an incoming SMS about to be deleted
from the SIM, an outgoing SMS queued by a job), the store calls `confirm` first: it returns once
`wait_replicas` replicas hold every write this process made so far, and raises `NotReplicated`
otherwise, which the callers treat as Redis being unavailable (503, retry); the retried request
is idempotent, so a write that did reach the master is not applied twice.

How: ``WAIT n timeout`` waits for the replication offset of the connection it is sent on, and a
pooled client may send each command on another connection. So `confirm` sends, on one
connection and in one round trip, a PUBLISH (replicated, stored nowhere) and then the WAIT: the
PUBLISH comes after every write this process has already seen answered, and so does its offset.
That holds for any kind of write (scripts, MULTI/EXEC, single commands) and on any Redis version.

A replica still receiving its full copy of the data confirms nothing: config/redis.conf has the
master send that copy at once (`repl-diskless-sync-delay 0`; Redis 7 and Valkey otherwise wait
5 s, and every change of those 5 s was refused).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

# The channel `confirm` publishes on; nobody listens (it is not a key: nothing is stored).
PROBE_CHANNEL = "hoso:replication-probe"


@dataclass(frozen=True, slots=True)
class Replication:
    replicas: int = 0  # 0: acknowledge once the master holds a write (one Redis, no replica)
    timeout_ms: int = 1000  # how long to wait for them before giving up (never 0: WAIT forever)


class ReplicatedRedis(redis.Redis):
    """A client that carries the deployment's `Replication` (set by `gateway.store.connect`),
    so that every store built on it confirms its writes the same way."""

    replication: Replication = Replication()


class NotReplicated(redis.ConnectionError):
    """Fewer replicas than asked for confirmed a write in time. A ConnectionError on purpose:
    every process already answers or retries that the right way (the write may or may not
    survive a failover, so it must not be acknowledged)."""

    def __init__(self, confirmed: int, wanted: int) -> None:
        super().__init__(f"{confirmed} of {wanted} replica(s) confirmed the write")
        self.confirmed = confirmed
        self.wanted = wanted


def confirm(client: redis.Redis) -> None:
    """Returns once the replicas `client` asks for hold every write answered to this process
    so far; raises `NotReplicated` when they do not confirm within the timeout."""
    policy = client.replication if isinstance(client, ReplicatedRedis) else Replication()
    if policy.replicas <= 0:
        return
    pipe = client.pipeline(transaction=False)
    pipe.publish(PROBE_CHANNEL, "1")
    pipe.wait(policy.replicas, max(1, policy.timeout_ms))
    _, confirmed = pipe.execute()
    if int(confirmed) < policy.replicas:
        # A master without its replicas may have been replaced by one of them: the next
        # connections ask Sentinel again instead of reusing the idle ones.
        client.connection_pool.disconnect(inuse_connections=False)
        raise NotReplicated(int(confirmed), policy.replicas)
