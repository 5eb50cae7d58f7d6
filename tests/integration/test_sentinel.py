"""A province's Redis: a master, a replica and three Sentinels, real processes on 127.0.0.1.

`HOSO_REDIS_URL=redis+sentinel://...` reaches the master through the Sentinels; every process
rides through a failover without a restart, and with `wait_replicas = 1` no acknowledged change
is lost when the master is killed with -9 before its replica got everything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from config.settings import RedisSettings
from gateway.core.events import parse_status_changed
from gateway.store import keys
from gateway.store.connect import connect, connect_rq
from gateway.store.dossiers import DossierStore
from gateway.store.queues import INBOUND_QUEUE
from gateway.store.replication import NotReplicated
from hoso.redis_server import SHIPPED_CONF, redis_server_binary
from tests.conftest import REDIS_SERVER
from tests.e2e.conftest import free_port, wait_until_healthy
from tests.factories import event_body, registration, registration_body
from tests.signing import DistinctSeconds, HttpClient, Signer

SERVICE = "hoso"
DOSSIERS = "/api/v1/dossiers"


def admin(port: int) -> redis.Redis:
    return redis.Redis(
        port=port,
        decode_responses=True,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> float:
    """Seconds it took `check` to come true."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)


@dataclass
class Node:
    """One redis-server (a data node, or a Sentinel) in its own directory."""

    dir: Path
    port: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis_server_binary(REDIS_SERVER), *self.args],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        wait_for(f"redis-server on {self.port}", lambda: bool(admin(self.port).ping()))
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def role(self) -> str:
        return str(admin(self.port).info("replication")["role"])


@dataclass
class Province:
    master: Node
    replica: Node
    sentinels: list[Node]
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}"

    def master_port(self) -> int | None:
        """The master as the Sentinels see it; None while they disagree (mid-failover)."""
        seen = {int(sentinel_state(s.port)["port"]) for s in self.sentinels}
        return seen.pop() if len(seen) == 1 else None

    def agreed(self, master: Node, replicas: int) -> bool:
        for s in self.sentinels:
            state = sentinel_state(s.port)
            if (
                int(state["port"]) != master.port
                or int(state["num-other-sentinels"]) != len(self.sentinels) - 1
                or int(state["num-slaves"]) < replicas
                or "down" in state["flags"]
            ):
                return False
        return admin(master.port).info("replication")["role"] == "master" and (
            online_replicas(master) >= replicas
        )


def sentinel_state(port: int) -> dict[str, str]:
    reply = admin(port).execute_command("SENTINEL", "MASTER", SERVICE)  # type: ignore[no-untyped-call]
    return {str(k): str(v) for k, v in dict(reply).items()}


def online_replicas(master: Node) -> int:
    """Replicas that hold the master's data and follow it (not those still waiting for a copy)."""
    info = admin(master.port).info("replication")
    return sum(
        1
        for name, value in info.items()
        if name.startswith("slave") and isinstance(value, dict) and value["state"] == "online"
    )


def replicating(replica: Node, master: Node) -> bool:
    info = admin(replica.port).info("replication")
    return (
        info["role"] == "slave"
        and int(info["master_port"]) == master.port
        and info["master_link_status"] == "up"
        and online_replicas(master) >= 1
    )


def data_node(home: Path, name: str, *extra: str) -> Node:
    port = free_port()
    folder = home / name
    folder.mkdir(parents=True)
    # A copy: Sentinel makes a server rewrite its own config file (CONFIG REWRITE) when it
    # turns it into a replica or a master, and the shipped file must stay as it is.
    conf = folder / "redis.conf"
    shutil.copyfile(SHIPPED_CONF, conf)
    args = [
        str(conf),
        "--port",
        str(port),
        "--dir",
        str(home / name),
        "--logfile",
        str(home / name / "redis.log"),
        *extra,
    ]
    return Node(home / name, port, args)


def sentinel_node(home: Path, name: str, master_port: int) -> Node:
    port = free_port()
    folder = home / name
    folder.mkdir(parents=True)
    conf = folder / "sentinel.conf"  # Sentinel rewrites it with what it learns
    conf.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                f"dir {folder}",
                f"logfile {folder / 'sentinel.log'}",
                f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2",
                # 3 s, not 1 s: with 1 s, on a loaded machine, the Sentinels' new links to a
                # just-promoted master went a second without an answer, they failed it over
                # again, to the old master just restarted (docs/redis.md). Production: 5 s.
                f"sentinel down-after-milliseconds {SERVICE} 3000",
                f"sentinel failover-timeout {SERVICE} 3000",
                f"sentinel parallel-syncs {SERVICE} 1",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return Node(folder, port, [str(conf), "--sentinel"])


@pytest.fixture
def province(tmp_path: Path) -> Iterator[Province]:
    master = data_node(tmp_path, "a")
    replica = data_node(tmp_path, "b", "--replicaof", "127.0.0.1", str(master.port))
    sentinels = [sentinel_node(tmp_path, f"s{i}", master.port) for i in range(3)]
    prov = Province(master, replica, sentinels, [master, replica, *sentinels])
    try:
        for node in prov.nodes:
            node.start()
        took = wait_for("the Sentinels to agree", lambda: prov.agreed(master, 1))
        print(f"sentinels agreed in {took:.1f} s")
        yield prov
    finally:
        for node in prov.nodes:
            node.kill()


@pytest.mark.slow
def test_a_change_is_not_acknowledged_until_the_replica_holds_it(tmp_path: Path) -> None:
    master = data_node(tmp_path, "a")
    replica = data_node(tmp_path, "b", "--replicaof", "127.0.0.1", str(master.port))
    try:
        master.start()
        replica.start()
        wait_for("replication", lambda: replicating(replica, master))
        # Twice the shipped wait: on a loaded machine a healthy replica's acknowledgement took
        # longer than 300 ms (Redis 7.0, a CPU hog and the suite beside it).
        settings = RedisSettings(
            url=f"redis://127.0.0.1:{master.port}", wait_replicas=1, wait_timeout_ms=2000
        )
        store = DossierStore(connect(settings))
        reg = registration(1)
        now = datetime.now(UTC)
        store.register(reg, "tuphap", now)
        event = parse_status_changed(event_body("e-1", 4), source="tuphap")
        assert replica.process is not None
        os.kill(replica.process.pid, signal.SIGSTOP)  # a replica that stopped answering
        try:
            with pytest.raises(NotReplicated):
                store.apply(reg.code, event, "tuphap", now)
            with pytest.raises(NotReplicated):  # the department's retry: still not confirmed
                store.apply(reg.code, event, "tuphap", now)
        finally:
            os.kill(replica.process.pid, signal.SIGCONT)
        recorded = store.apply(reg.code, event, "tuphap", now)  # confirmed this time
        assert (recorded.repeated, recorded.version) == (True, 2)
        on_replica = DossierStore(admin(replica.port))
        assert [e["event_id"] for e in on_replica.history(reg.code)] == ["registered", "e-1"]
    finally:
        master.kill()
        replica.kill()


@pytest.mark.slow
def test_a_replica_that_joins_confirms_changes_at_once(tmp_path: Path) -> None:
    """A replica's first full copy starts at once (config/redis.conf): Redis 7 and Valkey
    otherwise wait 5 s for more replicas before sending it, and with `wait_replicas = 1` every
    change was refused meanwhile (the province's very first registration got 503)."""
    master = data_node(tmp_path, "a")
    replica = data_node(tmp_path, "b", "--replicaof", "127.0.0.1", str(master.port))
    try:
        master.start()
        store = DossierStore(
            connect(
                RedisSettings(
                    url=f"redis://127.0.0.1:{master.port}", wait_replicas=1, wait_timeout_ms=4000
                )
            )
        )
        replica.start()
        wait_for(
            "the replica to ask for a copy",
            lambda: int(admin(master.port).info("replication")["connected_slaves"]) >= 1,
        )
        # Confirmed within the 4 s timeout: the copy did not wait 5 s to start.
        store.register(registration(1), "tuphap", datetime.now(UTC))
    finally:
        master.kill()
        replica.kill()


@pytest.mark.slow
def test_the_store_follows_a_failover_even_when_the_old_master_stays_up(
    province: Province,
) -> None:
    """SENTINEL FAILOVER demotes a live master: the store's open connection to it now gets
    READONLY (from inside the Lua script), reconnects, and the write lands on the new master."""
    store = DossierStore(
        connect(RedisSettings(url=province.url, wait_replicas=1, wait_timeout_ms=2000))
    )
    reg = registration(2)
    now = datetime.now(UTC)
    store.register(reg, "tuphap", now)
    store.apply(reg.code, parse_status_changed(event_body("m-1", 4), "tuphap"), "tuphap", now)
    sentinel = admin(province.sentinels[0].port)
    sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)  # type: ignore[no-untyped-call]
    took = wait_for(
        "the manual failover",
        lambda: (
            province.master_port() == province.replica.port
            and replicating(province.master, province.replica)
        ),
    )
    print(f"manual failover done in {took:.1f} s")
    event = parse_status_changed(event_body("m-2", 5, minutes=90), "tuphap")
    recorded = store.apply(reg.code, event, "tuphap", now)
    assert (recorded.version, recorded.repeated) == (3, False)
    on_new_master = DossierStore(admin(province.replica.port))
    assert on_new_master.get(reg.code).version == 3


@pytest.mark.slow
def test_a_master_turned_replica_behind_the_clients_back_is_a_lost_connection(
    tmp_path: Path,
) -> None:
    """READONLY from a server the Sentinels still call the master (an operator's REPLICAOF, a
    partition healing) is "Redis unavailable" (503, retry), also from inside a Lua script."""
    master = data_node(tmp_path, "a")
    other = data_node(tmp_path, "b", "--replicaof", "127.0.0.1", str(master.port))
    watcher = sentinel_node(tmp_path, "s", 0)
    nodes = [master, other]
    try:
        master.start()
        other.start()
        wait_for("replication", lambda: replicating(other, master))
        conf = watcher.args[0]
        text = (
            Path(conf)
            .read_text(encoding="utf-8")
            .replace("127.0.0.1 0 2", f"127.0.0.1 {master.port} 1")
        )
        Path(conf).write_text(text, encoding="utf-8")
        nodes.append(watcher.start())
        url = f"redis+sentinel://127.0.0.1:{watcher.port}/{SERVICE}"
        store = DossierStore(connect(RedisSettings(url=url)))
        reg = registration(3)
        now = datetime.now(UTC)
        store.register(reg, "tuphap", now)  # the pool now holds a connection to the master
        wait_for(
            "the replica to hold it", lambda: admin(other.port).exists(keys.dossier(reg.code)) == 1
        )
        # The two swap roles (the data stays: whenever the old master's copy arrives, the
        # dossier is there and the script gets as far as its write).
        admin(other.port).replicaof("NO", "ONE")
        admin(master.port).replicaof("127.0.0.1", str(other.port))
        event = parse_status_changed(event_body("r-1", 4), "tuphap")
        # The plain READONLY reply (Redis 7, Valkey) or one wrapped in a script's error (Redis 6).
        with pytest.raises(redis.ConnectionError, match=r"became a replica|now a slave"):
            store.apply(reg.code, event, "tuphap", now)
    finally:
        for node in nodes:
            node.kill()


@dataclass
class Pushes:
    """Department pushes from several threads; every push is retried until it is answered 2xx
    (the same event id: a push that was applied but not confirmed is answered 200 the second
    time, never applied twice)."""

    client: Callable[[], HttpClient]
    codes: list[str]
    acked: list[tuple[str, str, float]] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, n: int) -> None:
        http = self.client()
        code = self.codes[n]
        i = 0
        while not self.stop.is_set():
            i += 1
            event_id = f"p{n}-{i}"
            body = event_body(event_id, 4, minutes=i, desk=f"d{i}")
            while not self.stop.is_set():
                try:
                    status = http.post(f"{DOSSIERS}/{code}/events", body).status
                except OSError:
                    status = 0  # the gateway cut the connection (never expected)
                with self.lock:
                    if status in (200, 201):
                        self.acked.append((code, event_id, time.monotonic()))
                        break
                    self.refused[status] = self.refused.get(status, 0) + 1
                time.sleep(0.2)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def hoso_process(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "hoso.cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_every_acknowledged_push_survives_kill_9_of_the_master(
    province: Province, tmp_path: Path
) -> None:
    home = tmp_path / "hoso"
    home.mkdir()
    (home / "none.toml").write_text("", encoding="utf-8")
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": province.url,
        "HOSO_REDIS_WAIT_REPLICAS": "1",
        "HOSO_REDIS_WAIT_TIMEOUT_MS": "500",
        "HOSO_SECURITY_MASTER_KEY_FILE": str(home / "master.key"),
        "HOSO_GATEWAY_RATE_PER_MINUTE": "100000",
        "HOSO_CONFIG": str(home / "none.toml"),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = hoso_process(
        env, home / "gateway.log", "gateway", "--bind", f"127.0.0.1:{port}", "--workers", "2"
    )
    worker = hoso_process(env, home / "worker.log", "worker")
    pushes: Pushes | None = None
    threads: list[threading.Thread] = []
    try:
        wait_until_healthy(base, gateway)
        cli = [sys.executable, "-m", "hoso.cli"]
        made = subprocess.run(
            [*cli, "keys", "create", "--department", "tuphap", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = json.loads(made.stdout)
        signer = Signer(key["key_id"], key["secret"], DistinctSeconds())

        def client() -> HttpClient:
            return HttpClient(base, signer)

        codes = []
        for n in range(11, 15):
            created = client().post(DOSSIERS, registration_body(n))
            assert created.status == 201, created.text
            codes.append(created.body["code"])

        pushes = Pushes(client, codes)
        threads = [threading.Thread(target=pushes.run, args=(n,)) for n in range(len(codes))]
        for t in threads:
            t.start()
        wait_for("pushes before the kill", lambda: pushes.count() >= 60)

        province.master.kill()  # kill -9 while pushes are in flight
        killed = time.monotonic()
        acked_before = pushes.count()
        failover = wait_for(
            "the Sentinels to promote the replica",
            lambda: province.master_port() == province.replica.port,
        )
        print(f"failover: new master named {failover:.1f} s after kill -9")

        # A job queued after the failover is run by the worker started before it.
        rq = connect_rq(RedisSettings(url=province.url))
        Queue(INBOUND_QUEUE, connection=rq).enqueue(
            "tests.jobs_for_tests.mark_in_store", "after-failover"
        )
        on_new_master = admin(province.replica.port)
        job_ran = wait_for(
            "the worker to run a job queued after the failover",
            lambda: on_new_master.get("after-failover") == "1",
            timeout=30,
        )
        print(f"worker: job run {job_ran:.1f} s after it was queued")

        # The old master comes back: the Sentinels make it a replica of the new one; with a
        # replica again, changes are confirmed and acknowledged again.
        province.master.start()
        rejoined = wait_for(
            "the old master to rejoin as a replica",
            lambda: replicating(province.master, province.replica),
            timeout=30,
        )
        print(f"old master: replica of the new one {rejoined:.1f} s after its restart")
        wait_for("pushes acknowledged again", lambda: pushes.count() >= acked_before + 40)
        first_after = min(at for _, _, at in pushes.acked[acked_before:])
        print(
            f"pushes: {acked_before} acknowledged before the kill, the next one "
            f"{first_after - killed:.1f} s after it; refused meanwhile: {pushes.refused}"
        )
        pushes.stop.set()
        for t in threads:
            t.join(15)

        assert set(pushes.refused) <= {503}, f"refusals other than 503: {pushes.refused}"
        assert gateway.poll() is None, "the gateway was not restarted"
        assert worker.poll() is None, "the worker was not restarted"
        for code in codes:
            read = client().get(f"{DOSSIERS}/{code}")
            assert read.status == 200, read.text
            recorded = {h["event_id"] for h in read.body["history"]}
            mine = {e for c, e, _ in pushes.acked if c == code}
            assert mine <= recorded, f"lost on {code}: {sorted(mine - recorded)[:5]}"
        # The old master, now a replica, holds the same history (it resynchronised).
        new_master = DossierStore(admin(province.replica.port))
        old_master = DossierStore(admin(province.master.port))
        wait_for(
            "the old master to catch up",
            lambda: all(old_master.history(c) == new_master.history(c) for c in codes),
        )
    finally:
        if pushes is not None:
            pushes.stop.set()
        for t in threads:
            t.join(15)
        stop_process(gateway)
        stop_process(worker)
