#!/usr/bin/env python3
"""Benchmark: one carrier link — a real `hoso smpp --link` process and one bind to the test SMSC.

For each window: starts a redis-server with the shipped config (AOF, appendfsync always), the
test SMSC (node-smpp's server, tests/smsc/smsc.js: receipts at once, by text and TLVs) and the
link process (`python -m hoso.cli smpp --link bench`, transceiver, the carrier's TPS set far
above what one bind does), pre-fills the outbox with single-part GSM-7 SMS to distinct numbers,
and measures once the link is bound:

- sustained submits per second: accepted submit_sm in the SMSC's ledger (its own millisecond
  stamps) from the first to the last;
- the same for SMS delivered (receipt applied in the outbox), from the start to the last;
- CPU seconds of the link process per 1,000 SMS (/proc/<pid>/stat utime + stime from the bind
  to the end), its max RSS (VmHWM), and the CPU of the SMSC and of Redis over the same time, to
  see what limits the figure.

Target: >= 200 submits/s through one bind at window 10 and at window 50 on the 2-core machine.

    .venv/bin/python bench/smpp.py [--windows 10,50] [--count 5000] [--long udh|sar|payload]
                                   [--text ucs2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.messages import Priority, SmsState
from gateway.store.links import LinkRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from tests.smsc.harness import Smsc, submits

GSM7_TEXT = "Ho so 000.00.20.H57-240423-0001 da duoc tiep nhan"  # one GSM-7 part
UCS2_TEXT = "Hồ sơ 000.00.20.H57-240423-0001 đã được tiếp nhận"  # one UCS-2 part
TARGET = 200.0  # submits a second through one bind
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    window: int
    sms: int
    submits_per_s: float
    delivered_per_s: float
    link_cpu_per_1000: float
    link_rss_mib: float
    smsc_cpu_share: float
    redis_cpu_share: float
    seconds: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def max_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def config(home: Path, smsc: Smsc, window: int, long: str) -> Path:
    secret = home / "password"
    secret.write_text("s3cret\n", encoding="utf-8")
    path = home / "hoso.toml"
    path.write_text(
        f"""
[[smpp]]
id = "bench"
host = "127.0.0.1"
port = {smsc.port}
system_id = "hoso"
password_file = "{secret}"
source = "UBND BADINH"
tps = 100000
window = {window}
long = "{long}"
""",
        encoding="utf-8",
    )
    return path


def run(window: int, count: int, long: str, text: str, keep: bool) -> Result:
    home = Path(tempfile.mkdtemp(prefix=f"hoso-bench-smpp-{window}-"))
    server = RedisServer(home / "redis").start()
    smsc = Smsc(home / "smsc", {"hoso": "s3cret"}).start()
    link = None
    try:
        client = server.client()
        outbox = Outbox(client)
        now = int(time.time() * 1000)
        ids = [
            outbox.enqueue(f"+849{i:08d}", text, Priority.NOTIFICATION, now + i, via="bench")
            for i in range(count)
        ]
        env = dict(os.environ) | {
            "HOSO_CONFIG": str(config(home, smsc, window, long)),
            "HOSO_REDIS_URL": server.url,
        }
        with (home / "link.log").open("wb") as log:
            link = subprocess.Popen(
                [sys.executable, "-m", "hoso.cli", "smpp", "--link", "bench"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while not smsc.ledger("bind"):
            time.sleep(0.01)
        started = time.monotonic()
        cpu = {
            "link": cpu_seconds(link.pid),
            "smsc": cpu_seconds(smsc.process.pid),  # type: ignore[union-attr]
            "redis": cpu_seconds(server.process.pid),  # type: ignore[union-attr]
        }
        registry = LinkRegistry(client)

        def done() -> bool:
            pipe = client.pipeline(transaction=False)
            for sms_id in ids[-200:]:
                pipe.hget(f"hoso:sms:{sms_id}", "state")
            return all(s == SmsState.DELIVERED.value for s in pipe.execute())

        while not done():
            time.sleep(0.05)
            if time.monotonic() - started > 300:
                raise RuntimeError("the link did not finish in 5 minutes")
        elapsed = time.monotonic() - started
        used = {
            "link": cpu_seconds(link.pid) - cpu["link"],
            "smsc": cpu_seconds(smsc.process.pid) - cpu["smsc"],  # type: ignore[union-attr]
            "redis": cpu_seconds(server.process.pid) - cpu["redis"],  # type: ignore[union-attr]
        }
        accepted = submits(smsc.ledger())
        span = (accepted[-1]["at"] - accepted[0]["at"]) / 1000 or 1e-3
        pipe = client.pipeline(transaction=False)
        for sms_id in ids:
            pipe.hget(f"hoso:sms:{sms_id}", "state")
        delivered = sum(1 for s in pipe.execute() if s == SmsState.DELIVERED.value)
        result = Result(
            window=window,
            sms=count,
            submits_per_s=round(len(accepted) / span, 1),
            delivered_per_s=round(delivered / elapsed, 1),
            link_cpu_per_1000=round(used["link"] / count * 1000, 3),
            link_rss_mib=round(max_rss_mib(link.pid), 1),
            smsc_cpu_share=round(used["smsc"] / elapsed, 2),
            redis_cpu_share=round(used["redis"] / elapsed, 2),
            seconds=round(elapsed, 2),
        )
        print(json.dumps(registry.counters("bench")), file=sys.stderr)
        return result
    finally:
        if link is not None and link.poll() is None:
            link.send_signal(signal.SIGTERM)
            link.wait(60)
        smsc.stop()
        server.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"kept {home}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="10,50")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--long", default="udh", choices=["udh", "sar", "payload"])
    parser.add_argument("--text", default="gsm7", choices=["gsm7", "ucs2"])
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    text = GSM7_TEXT if args.text == "gsm7" else UCS2_TEXT
    row = "{:>6} {:>6} {:>10} {:>12} {:>14} {:>8} {:>10} {:>11} {:>8}"
    print(
        row.format(
            "window",
            "SMS",
            "submits/s",
            "delivered/s",
            "CPU s/1000",
            "RSS MiB",
            "SMSC CPU",
            "Redis CPU",
            "seconds",
        )
    )
    results = []
    for window in (int(w) for w in args.windows.split(",")):
        r = run(window, args.count, args.long, text, args.keep)
        results.append(r)
        print(
            row.format(
                r.window,
                r.sms,
                r.submits_per_s,
                r.delivered_per_s,
                r.link_cpu_per_1000,
                r.link_rss_mib,
                r.smsc_cpu_share,
                r.redis_cpu_share,
                r.seconds,
            ),
            flush=True,
        )
    for r in results:
        verdict = "met" if r.submits_per_s >= TARGET else "NOT met"
        print(
            f"window {r.window}: {r.submits_per_s / TARGET:.2f}x the {TARGET:.0f}/s target "
            f"({verdict})"
        )
    print(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
