"""The memory of a running gateway's gunicorn workers, from /proc: each worker's peak resident
set (VmHWM) is reset to its current size (`clear_refs` 5, Linux >= 4.0) before the requests
measured, and read after them, so the increase is what those requests cost the worker that
served them."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


def workers(master_pid: int) -> list[int]:
    """The gunicorn master's children: its worker processes."""
    found = subprocess.run(
        ["pgrep", "-P", str(master_pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return sorted(int(pid) for pid in found)


def status_bytes(pid: int, field_name: str) -> int:
    """A size field of /proc/<pid>/status (VmRSS, VmHWM...) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"{field_name} not in /proc/{pid}/status")


@dataclass
class Peaks:
    """Per worker pid: the resident size when measuring began, and the peak increase since."""

    pids: list[int]
    start: dict[int, int] = field(default_factory=dict)
    increase: dict[int, int] = field(default_factory=dict)

    @property
    def largest(self) -> int:
        return max(self.increase.values())

    def shown(self) -> str:
        return ", ".join(f"{pid}: +{self.increase[pid] / MIB:.1f} MiB" for pid in self.pids)


@contextlib.contextmanager
def peak_increase(master_pid: int) -> Iterator[Peaks]:
    """Measures the workers' peak memory over the block; the workers must be the same processes
    at the end (none killed or restarted meanwhile)."""
    peaks = Peaks(workers(master_pid))
    assert peaks.pids, "the gateway has no workers"
    for pid in peaks.pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
        peaks.start[pid] = status_bytes(pid, "VmRSS")
    yield peaks
    assert workers(master_pid) == peaks.pids, "a worker died or was replaced"
    for pid in peaks.pids:
        peaks.increase[pid] = status_bytes(pid, "VmHWM") - peaks.start[pid]
