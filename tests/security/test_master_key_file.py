"""Issue 11, low: the master key was created under the process umask, then chmod-ed, and a local
reader won that race 8 times in 40. Key files are now created 0600 from their first moment, by
one function for the master key and the session key (`gateway.keyfiles.read_or_create_key`).

"Every moment" is observed, not sampled: a child process with umask 0 runs the key-file code
under a Python audit hook, which runs before every file operation the code makes (create, open,
link, rename, chmod...) and records the mode of every file then in the directory. A file
created readable and narrowed afterwards is caught at the operation that follows its creation.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import requests

from gateway.keyfiles import MasterKeyFiles, rotate_master
from gateway.store.credentials import ClientKind, Keyring
from gateway.store.sealing import FixedKeys
from tests.e2e.conftest import running_gateway

WATCHED = textwrap.dedent(
    """
    import json, os, stat, sys
    from pathlib import Path

    directory = Path(sys.argv[1])
    seen = []
    busy = False

    def hook(event, args):
        global busy
        if busy or not event.startswith(("open", "os.")):
            return
        busy = True
        try:
            for entry in os.listdir(directory):
                mode = stat.S_IMODE(os.lstat(directory / entry).st_mode)
                seen.append([event, entry, mode])
        except FileNotFoundError:
            pass
        finally:
            busy = False

    os.umask(0)
    from gateway.http.admin_auth import load_session_key
    from gateway.keyfiles import MasterKeyFiles, read_or_create_key
    from gateway.store.sealing import MasterKey
    sys.addaudithook(hook)
    read_or_create_key(directory / "master.key", "master key")
    load_session_key(directory / "session.key")
    MasterKeyFiles(directory / "master.key").ensure()
    sys.stdout.write(json.dumps(seen))
    """
)


def test_key_files_are_never_readable_by_others_even_under_umask_0(tmp_path: Path) -> None:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", WATCHED, str(keydir)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=60,
    )
    seen: list[tuple[str, str, int]] = [tuple(row) for row in json.loads(run.stdout)]
    names = {name for _, name, _ in seen}
    # The hook ran while the keys were being made: it saw the files being written, then in place.
    assert any(name.startswith(".tmp-master.key") for name in names), names
    assert {"master.key", "session.key"} <= names
    readable = [row for row in seen if row[2] & 0o077]
    assert readable == [], readable
    for name in ("master.key", "session.key"):
        assert stat.S_IMODE((keydir / name).stat().st_mode) == 0o600
        assert len(bytes.fromhex((keydir / name).read_text().strip())) == 32
    assert sorted(p.name for p in keydir.iterdir()) == ["master.key", "session.key"]


@pytest.mark.slow
def test_a_gateway_started_under_umask_0_creates_private_key_files(tmp_path: Path) -> None:
    session = tmp_path / "session.key"
    with contextlib.ExitStack() as stack:
        old = os.umask(0)  # the gateway process inherits it
        try:
            gateway = stack.enter_context(
                running_gateway(tmp_path, HOSO_ADMIN_SESSION_KEY_FILE=str(session))
            )
        finally:
            os.umask(old)
        master = Path(gateway.env["HOSO_SECURITY_MASTER_KEY_FILE"])
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
        assert not session.exists()
        login = requests.get(gateway.base + "/admin/login", timeout=10)  # made on first use
        assert login.status_code == 200
        assert stat.S_IMODE(session.stat().st_mode) == 0o600
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_root_rotating_the_master_key_leaves_it_to_the_services_user(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    """On a server the key file belongs to `hoso` in a directory only root may write: the
    operator rotates as root, and the services must still read the new key."""
    files = MasterKeyFiles(tmp_path / "master.key")
    files.ensure()
    services_user = 65534  # nobody: any user but root
    os.chown(files.current, services_user, services_user)
    keyring = Keyring(redis_client, files)
    new = keyring.create(ClientKind.DEPARTMENT, "tuphap", datetime.now(UTC))

    rotate_master(files, keyring)

    st = files.current.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (services_user, services_user, 0o600)
    credential = Keyring(redis_client, FixedKeys.of(files.ensure())).get(new.key_id)
    assert credential is not None
    assert credential.secret == new.secret
