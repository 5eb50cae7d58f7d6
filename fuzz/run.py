"""Run the fuzz targets one after the other and print a summary (`make fuzz`).

    python -m fuzz.run [--seconds 60 | --runs 100000] [target ...]

Each target runs in its own process (libFuzzer via atheris) with the seeds of
fuzz/corpus/<target>/, the dictionary fuzz/dicts/<target>.dict if there is one, and what earlier
runs found (var/fuzz/<target>/corpus/, not versioned); crashes, hangs (-timeout) and
out-of-memory inputs land in var/fuzz/<target>/, the log of the last run in
var/fuzz/<target>/log.txt. One at a time: each target keeps a core busy.
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "corpus"
WORK = ROOT / "var" / "fuzz"
TARGETS = (
    "sms_pdu",
    "cmgl",
    "at_response",
    "emulator",
    "scanner_serial",
    "scanner_line",
    "scanner_evdev",
    "scanner_image",
    "scan_payload",
    "sms_syntax",
    "receipt_image",
)
ARTIFACTS = ("crash-", "timeout-", "oom-", "leak-")
STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)
COVERAGE = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)")
SLOWEST = re.compile(r"Slowest unit: (\d+) s")


@dataclass
class Outcome:
    target: str
    runs: int
    execs_per_second: int
    coverage: int | None
    features: int | None
    corpus: int | None
    slowest: int | None
    crashes: list[Path]
    exit_code: int
    seconds: float


def run_target(target: str, seconds: int | None, runs: int | None, timeout: int) -> Outcome:
    work = WORK / target
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = SEEDS / target
    before = {p.name for p in work.iterdir()}
    max_len = getattr(importlib.import_module(f"fuzz.{target}"), "MAX_LEN", 4096)
    command = [
        sys.executable,
        "-m",
        f"fuzz.{target}",
        f"-artifact_prefix={work}/",
        f"-max_len={max_len}",
        f"-timeout={timeout}",
        "-rss_limit_mb=2048",
        "-report_slow_units=1",
        "-print_final_stats=1",
    ]
    dictionary = ROOT / "fuzz" / "dicts" / f"{target}.dict"
    if dictionary.exists():
        command.append(f"-dict={dictionary}")
    if seconds is not None:
        command.append(f"-max_total_time={seconds}")
    if runs is not None:
        command.append(f"-runs={runs}")
    command += [str(corpus), *([str(seeds)] if seeds.is_dir() else [])]
    started = time.monotonic()
    with (work / "log.txt").open("w") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    text = (work / "log.txt").read_text(errors="replace")
    stats = {k: int(v) for k, v in STAT.findall(text)}
    covered = COVERAGE.findall(text)
    slow = [int(s) for s in SLOWEST.findall(text)]
    crashes = sorted(
        p for p in work.iterdir() if p.name not in before and p.name.startswith(ARTIFACTS)
    )
    cov, ft, corp = (int(x) for x in covered[-1]) if covered else (None, None, None)
    return Outcome(
        target,
        stats.get("number_of_executed_units", 0),
        stats.get("average_exec_per_sec", 0),
        cov,
        ft,
        corp,
        max(slow) if slow else None,
        crashes,
        done.returncode,
        elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=int, help="per target (default 60)")
    budget.add_argument("--runs", type=int, help="inputs per target")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    args = parser.parse_args(argv)
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    targets = args.targets or list(TARGETS)
    seconds = args.seconds if args.seconds or args.runs else 60
    outcomes: list[Outcome] = []
    for target in targets:
        print(f"fuzz {target} ...", flush=True)
        outcome = run_target(target, seconds, args.runs, args.timeout)
        outcomes.append(outcome)
        for crash in outcome.crashes:
            print(f"  {crash.relative_to(ROOT)}")
    header = f"{'target':<15} {'runs':>10} {'exec/s':>8} {'cov':>6} {'ft':>6} {'corp':>5}"
    print(f"\n{header} {'slowest':>7} {'crashes':>7}  exit")
    for o in outcomes:
        slowest = f"{o.slowest}s" if o.slowest is not None else "<1s"
        print(
            f"{o.target:<15} {o.runs:>10} {o.execs_per_second:>8} {_n(o.coverage):>6}"
            f" {_n(o.features):>6} {_n(o.corpus):>5} {slowest:>7} {len(o.crashes):>7}"
            f"  {o.exit_code}"
        )
    failed = [o for o in outcomes if o.crashes or o.exit_code != 0]
    total_runs = sum(o.runs for o in outcomes)
    total_crashes = sum(len(o.crashes) for o in outcomes)
    print(f"\n{len(outcomes)} targets, {total_runs} runs, crashes={total_crashes}")
    return 1 if failed else 0


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
