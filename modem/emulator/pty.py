"""Pseudo-terminals for the emulated modems, served by one selector thread.

Each modem's serial device is a pty slave reached through a stable symlink (DIR/<modem id>).
The emulator keeps its own slave descriptor open so the master stays readable whether or not a
client has the port open; unplugging closes both ends, so a client's reads and writes fail.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import threading
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_BUFFERED = 256 * 1024  # what a modem keeps for a terminal that does not read


class PtyPort:
    """One pty behind a symlink."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1
        self.device_name = ""

    def open(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        self.device_name = os.ttyname(slave)
        tmp = self.link.with_name(f".{self.link.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.device_name)
        tmp.replace(self.link)
        log.info("pty.opened link=%s device=%s", self.link, self.device_name)
        return self.device_name

    def close(self) -> None:
        """Gone, as an unplugged USB stick: the symlink goes away and the pty dies."""
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink() and os.readlink(self.link) == self.device_name:
                self.link.unlink()
        for fd in (self.master, self.slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = -1

    @property
    def is_open(self) -> bool:
        return self.master >= 0


class _Endpoint:
    def __init__(self, port: PtyPort, on_data: Callable[[bytes], None]) -> None:
        self.port = port
        self.on_data = on_data
        self.out = bytearray()


class PtyLoop:
    """Reads what terminals write and writes what modems say, for all ports, in one thread."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._endpoints: dict[int, _Endpoint] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._removals: list[tuple[int, threading.Event]] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="modem-pty", daemon=True)
        self._thread.start()

    def add(self, port: PtyPort, on_data: Callable[[bytes], None]) -> None:
        with self._lock:
            self._endpoints[port.master] = _Endpoint(port, on_data)
        self._wake()

    def remove(self, port: PtyPort) -> None:
        """Stop serving `port`; returns once the loop no longer touches its descriptors."""
        done = threading.Event()
        with self._lock:
            if self._endpoints.pop(port.master, None) is None:
                return
            self._removals.append((port.master, done))
        self._wake()
        if threading.current_thread() is not self._thread:
            done.wait(timeout=5)

    def write(self, port: PtyPort, data: bytes) -> None:
        with self._lock:
            ep = self._endpoints.get(port.master)
            if ep is None:
                return
            ep.out.extend(data)
            if len(ep.out) > MAX_BUFFERED:
                del ep.out[: len(ep.out) - MAX_BUFFERED]
        self._wake()

    def stop(self) -> None:
        self._stopped = True
        self._wake()
        self._thread.join(timeout=5)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    def _sync_registrations(self) -> None:
        with self._lock:
            removals, self._removals = self._removals, []
            wanted = {fd: bool(ep.out) for fd, ep in self._endpoints.items()}
        for fd, done in removals:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
            done.set()
        registered = {
            key.fd: key.events
            for key in self._selector.get_map().values()
            if key.fd != self._wake_r
        }
        for fd in registered:
            if fd not in wanted:
                self._selector.unregister(fd)
        for fd, writing in wanted.items():
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            if fd not in registered:
                self._selector.register(fd, events)
            elif registered[fd] != events:
                self._selector.modify(fd, events)

    def _run(self) -> None:
        while not self._stopped:
            self._sync_registrations()
            for key, events in self._selector.select(timeout=0.5):
                if key.fd == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                    continue
                with self._lock:
                    ep = self._endpoints.get(key.fd)
                if ep is None:
                    continue
                if events & selectors.EVENT_READ:
                    self._read(ep)
                if events & selectors.EVENT_WRITE:
                    self._write(ep)
        with self._lock:
            removals, self._removals = self._removals, []
        for _, done in removals:
            done.set()

    def _read(self, ep: _Endpoint) -> None:
        try:
            data = os.read(ep.port.master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("pty.read_failed link=%s errno=%s", ep.port.link, exc.errno)
            return
        if data:
            try:
                ep.on_data(data)
            except Exception:  # the loop serves every modem; one failure must not stop it
                log.exception("pty.feed_failed link=%s", ep.port.link)

    def _write(self, ep: _Endpoint) -> None:
        with self._lock:
            chunk = bytes(ep.out[:4096])
        if not chunk:
            return
        try:
            n = os.write(ep.port.master, chunk)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("pty.write_failed link=%s errno=%s", ep.port.link, exc.errno)
            n = len(chunk)
        with self._lock:
            del ep.out[:n]
