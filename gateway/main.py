"""`hoso gateway`: the Flask app served by gunicorn (one app instance per worker process)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.config import Config

from config.logs import OneLineFormatter
from config.settings import Settings
from gateway.http.app import create_app
from gateway.keyfiles import MasterKeyFiles
from gateway.store.connect import connect
from gateway.store.credentials import Keyring, SealState

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> Flask:
    client = connect(settings.redis)  # per gunicorn worker: after the fork
    return create_app(settings, client, MasterKeyFiles(Path(settings.security.master_key_file)))


class _GunicornLogs(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own messages (one names a request's path) on one line each, like ours."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(OneLineFormatter(self.error_fmt, self.datefmt))


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return build_app(self._settings)


def _worker_ready(worker: Any) -> None:
    """A worker has loaded the app and takes requests: said once per worker, so an operator (and
    a test) can tell a gateway whose every worker is up from one still booting some."""
    log.info("gateway.worker_ready pid=%s", worker.pid)


def serve(settings: Settings) -> None:
    gw = settings.gateway
    workers = gw.workers or 2 * (os.cpu_count() or 1)
    # Create the master key before forking, so that the workers never race to create it.
    master = MasterKeyFiles(Path(settings.security.master_key_file))
    master.ensure()
    _warn_of_old_records(settings, master)
    options = {
        "bind": gw.bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": gw.threads,
        "keepalive": 15,
        "timeout": 30,
        "graceful_timeout": 10,
        "limit_request_line": 4094,
        "proc_name": "hoso-gateway",
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "logger_class": _GunicornLogs,
        "loglevel": "info",
        "post_worker_init": _worker_ready,
    }
    log.info("gateway.starting bind=%s workers=%s threads=%s", gw.bind, workers, gw.threads)
    _Gunicorn(settings, options).run()


def _warn_of_old_records(settings: Settings, master: MasterKeyFiles) -> None:
    """API keys sealed the pre-0.3 way are refused until `hoso keys upgrade` re-seals them: say
    so once at start, where the operator looks (docs/upgrades.md)."""
    client = connect(settings.redis)
    try:
        old = [k for k in Keyring(client, master).listing() if k.seal is SealState.OLD_FORMAT]
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("gateway.keys_unchecked error=%s", exc)
        return
    finally:
        client.close()
    if old:
        log.error(
            "gateway.old_format_keys count=%s: these keys are refused until `hoso keys upgrade`"
            " re-seals them (docs/upgrades.md)",
            len(old),
        )
