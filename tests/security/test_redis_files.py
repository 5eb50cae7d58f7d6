"""The embedded Redis's files (AOF, snapshots) hold dossiers, citizens' phones, password hashes
and sealed API secrets: readable by the hoso user alone, whatever umask `make run` had."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER

SECRET = "argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$aGFzaA"


def started_with_umask_022(folder: Path) -> RedisServer:
    """The server as `hoso up` starts it from a shell with the common umask 022."""
    previous = os.umask(0o022)
    try:
        return RedisServer(folder, binary=REDIS_SERVER).start()
    finally:
        os.umask(previous)


def test_the_embedded_redis_keeps_its_directory_and_files_private(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "redis"
    folder.mkdir(parents=True, mode=0o755)  # as an older hoso left it
    folder.chmod(0o755)
    server = started_with_umask_022(folder)
    try:
        client = server.client()
        client.hset("admin:user:chi", mapping={"password": SECRET})
        client.save()  # a snapshot too, not only the AOF
        client.bgrewriteaof()
    finally:
        server.stop()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.rglob("*") if not p.is_socket()]
    assert any("appendonly" in p.name for p in files)
    assert any(p.name == "dump.rdb" for p in files)
    shared = {str(p.relative_to(folder)): oct(p.stat().st_mode) for p in files}
    shared = {name: mode for name, mode in shared.items() if int(mode, 8) & 0o077}
    assert not shared, f"readable beyond the hoso user: {shared}"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to read as another local user")
def test_another_local_user_cannot_read_the_aof(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # pytest's own folders are private; the attack is on Redis's own
    (tmp_path / "var").mkdir(mode=0o755)
    folder = tmp_path / "var" / "redis"
    server = started_with_umask_022(folder)
    try:
        server.client().hset("admin:user:chi", mapping={"password": SECRET})
    finally:
        server.stop()
    aof = next(p for p in folder.rglob("*.aof") if p.stat().st_size > 0)
    attempt = subprocess.run(
        ["cat", str(aof)], user="nobody", capture_output=True, text=True, check=False
    )
    assert attempt.returncode != 0
    assert "Permission denied" in attempt.stderr
    assert SECRET not in attempt.stdout


def test_the_redis_unit_creates_its_files_private() -> None:
    """In production systemd starts `hoso redis` (umask 077) in a state directory of its own."""
    unit = (Path(__file__).resolve().parents[2] / "systemd" / "hoso-redis.service").read_text(
        encoding="utf-8"
    )
    settings = [line.partition("=") for line in unit.splitlines() if "=" in line]
    assert ("UMask", "=", "0077") in settings
    assert ("StateDirectoryMode", "=", "0750") in settings  # hoso's group may list, not read
