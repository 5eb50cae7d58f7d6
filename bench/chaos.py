#!/usr/bin/env python3
"""Chaos at scale: the engine of `tests/e2e/test_chaos.py` (`tests/chaos.py`) with more messages
and kills, and its report: messages, kills by kind, restarts, lost (must be 0), stuck (must be 0),
duplicates and their explanations from the outbox's attempt log, failed jobs, the time to settle
and the throughput.

    .venv/bin/python bench/chaos.py [--messages 10000] [--kills 120] [--load-seconds 480]
                                    [--latency 0.05] [--modems 4] [--seed N] [--keep DIR]

Exits 1 when anything was lost, stuck or not explained.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chaos import Profile, run, seed_for_run


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=120)
    parser.add_argument("--load-seconds", type=float, default=480.0)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per SMS part")
    parser.add_argument("--modems", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="RQ workers")
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, help="default: random (printed), fixed under CI")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep the logs")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else seed_for_run()[0]
    profile = Profile(
        messages=args.messages,
        kills=args.kills,
        seed=seed,
        modems=args.modems,
        latency=args.latency,
        load_seconds=args.load_seconds,
        settle_timeout=args.settle_timeout,
        workers=args.workers,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    home = args.keep or Path(tempfile.mkdtemp(prefix="hoso-chaos-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        account = run(profile, home, say=lambda line: print(line, flush=True))
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    print(account.report())
    problems = account.problems()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
