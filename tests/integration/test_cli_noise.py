"""Issue 10, item 10 (the command line's part): what an operator reads is signal, and what the
`make run` banner tells them to type works.

- RQ logged every job and every 5-second cron tick (a third of all lines): its INFO lines are
  held back, its warnings and our own events stay.
- The banner's `hoso admin create-user <name>` lacked `--role`, which the command requires (an
  account's power is chosen, never defaulted): the banner now gives `--role admin`.
- `hoso sim --help` showed only `rest`: it lists the emulator's commands, each with its options.
- The banner said `hoso sim sms ...`, which a terminal without `.venv/bin` on its PATH (the one
  `make run` is typed in) does not find: it names the program as it can be run.
- `hoso sim sent`, which the banner says shows the answer, printed ISO times in UTC.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from config.settings import Settings
from gateway.store.queues import INBOUND_QUEUE, NOTIFY_QUEUE
from hoso import up
from hoso.cli import parser
from hoso.redis_server import RedisServer
from modem.emulator.bank import LEDGER_FILE
from modem.emulator.ledger import Sent


def env_for(server: RedisServer, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    return dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def test_a_worker_logs_our_events_and_not_rqs_line_per_job(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    queue = Queue(INBOUND_QUEUE, connection=redis.Redis.from_url(redis_server.url))
    for _ in range(3):
        queue.enqueue("tests.jobs_for_tests.mark_in_store", "noise-test")
    run = subprocess.run(
        [sys.executable, "-m", "hoso.cli", "worker", "--burst"],
        env=env_for(redis_server, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert redis_client.get("noise-test") == "3"  # the jobs ran
    assert "worker.started" in run.stderr
    assert not [line for line in run.stderr.splitlines() if " INFO rq." in line], run.stderr


def test_the_cron_scheduler_enqueues_its_ticks_without_a_line_each(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    log = tmp_path / "cron.log"
    with log.open("w") as err:
        cron = subprocess.Popen(
            [sys.executable, "-m", "hoso.cli", "cron"],
            env=env_for(redis_server, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            notify = Queue(NOTIFY_QUEUE, connection=redis.Redis.from_url(redis_server.url))
            deadline = time.monotonic() + 60
            while notify.count < 2:  # a second tick: the first one's line would be written
                assert cron.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            cron.send_signal(signal.SIGTERM)
            cron.wait(30)
    text = log.read_text()
    assert "cron.started" in text
    assert "Enqueued job" not in text
    assert not [line for line in text.splitlines() if " INFO rq." in line], text


def test_the_banners_create_user_command_is_one_the_command_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    up._print_where(Settings(), "unix:///var/redis.sock", "127.0.0.1:8080", Path("var/sim"))
    banner = capsys.readouterr().out
    found = re.search(r"(hoso admin create-user [^)]*)\)", banner)
    assert found is not None, banner
    argv = shlex.split(found.group(1).replace("<name>", "tuan"))[1:]
    args = parser().parse_args(argv)
    assert (args.name, args.role) == ("tuan", "admin")
    with pytest.raises(SystemExit):  # no default power: the role must be chosen
        parser().parse_args(["admin", "create-user", "tuan"])


def test_the_banners_commands_run_as_copied_into_a_terminal_without_the_venv_on_its_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` runs `.venv/bin/hoso up`; the shell a person copies the banner's commands into
    has no `.venv/bin` on its PATH, so a bare `hoso` there is "command not found"."""
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    up._print_where(Settings(), "unix:///var/redis.sock", "127.0.0.1:8080", Path("var/sim"))
    banner = capsys.readouterr().out
    programs = set(re.findall(r"(\S*hoso) (?:admin|sim|keys) ", banner))
    assert programs, banner
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    for program in programs:
        ran = subprocess.run(
            ["sh", "-c", f"{program} --help"],
            cwd=root,
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, (program, ran.stderr)


def test_hoso_sim_sent_shows_what_went_out_at_vietnams_time(tmp_path: Path) -> None:
    """The banner's "see what went out": a person reads dd/mm/yyyy HH:MM in Vietnam's time (it
    printed the ledger's ISO time in UTC); `--json` keeps the ledger's record as it is."""
    sent = Sent(
        "message", "m1", "+84901234567", "Ho so cua ban: QF180R9 (Duoc tiep nhan).", 1, 0,
        (3,), None, False, True, "gsm7", "2026-12-02T04:35:44.854+00:00",
    )  # fmt: skip
    (tmp_path / LEDGER_FILE).write_text(sent.to_json() + "\n", encoding="utf-8")

    def listed(*more: str) -> str:
        ran = subprocess.run(
            [sys.executable, "-m", "hoso.cli", "sim", "sent", "--dir", str(tmp_path), *more],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return ran.stdout

    assert listed() == (
        "02/12/2026 11:35 m1 +84901234567 [1] Ho so cua ban: QF180R9 (Duoc tiep nhan).\n"
    )
    assert json.loads(listed("--json"))["time"] == "2026-12-02T04:35:44.854+00:00"


@pytest.mark.slow
def test_hoso_sim_help_lists_the_emulators_commands_and_their_options() -> None:
    def help_of(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "hoso.cli", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return run.stdout

    listed = help_of("sim")
    assert "usage: hoso sim" in listed
    for command in ("start", "sms", "sent", "fault", "modems"):
        assert re.search(rf"^\s+{command}\s", listed, re.MULTILINE), listed
    assert "rest" not in listed
    assert "--modems" in help_of("sim", "start")
    assert "--from" in help_of("sim", "sms")
    assert "hoso sim --help" in help_of()
