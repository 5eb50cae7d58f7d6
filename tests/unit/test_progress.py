"""The CLI progress bar: redrawn in place on a terminal, a line per tenth elsewhere."""

from __future__ import annotations

import io

from hoso.progress import Progress


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pipe_gets_one_plain_line_per_tenth_and_the_last_line_once() -> None:
    out, clock = io.StringIO(), Ticks()
    with Progress("import", 50, stream=out, clock=clock, tty=False) as bar:
        for _ in range(50):
            clock.now += 0.1
            bar.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert "\r" not in out.getvalue()
    assert lines[0].startswith("import [##----------------------] 5/50  10%")
    assert lines[-1] == "import [########################] 50/50 100% 10/s 5s"


def test_a_terminal_line_is_redrawn_in_place_at_most_ten_times_a_second() -> None:
    out, clock = io.StringIO(), Ticks()
    with Progress("resend", 1000, stream=out, clock=clock, tty=True) as bar:
        for _ in range(1000):
            clock.now += 0.001  # 1,000 steps in one second
            bar.advance()
    text = out.getvalue()
    assert 10 <= text.count("\r") <= 13  # ~10 redraws, the final one, the closing line
    assert text.endswith("\n")
    assert text.rsplit("\r", 1)[-1].startswith("resend [########################] 1,000/1,000")


def test_the_eta_comes_from_the_rate_so_far() -> None:
    out, clock = io.StringIO(), Ticks()
    bar = Progress("reindex", 4000, stream=out, clock=clock, tty=False)
    clock.now += 10
    bar.advance(1000)  # 100/s, 3,000 left
    assert bar.line().endswith("1,000/4,000  25% 100/s ETA 30s")
    clock.now += 50
    assert bar.line().endswith("17/s ETA 3m00s")  # 1,000 in 60 s: 3,000 left take 180 s


def test_nothing_to_do_still_ends_with_a_complete_line() -> None:
    out = io.StringIO()
    with Progress("reindex", 0, stream=out, tty=False):
        pass
    assert out.getvalue().splitlines() == [out.getvalue().strip()]
    assert "0/0 100%" in out.getvalue()
