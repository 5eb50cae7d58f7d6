"""`hoso gateway`: the Flask app served by gunicorn (one app instance per worker process)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from config.settings import Settings
from gateway.http.app import create_app, load_master_key
from gateway.store.connect import connect

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> Flask:
    client = connect(settings.redis)  # per gunicorn worker: after the fork
    master = load_master_key(Path(settings.security.master_key_file))
    return create_app(settings, client, master)


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


def serve(settings: Settings) -> None:
    gw = settings.gateway
    workers = gw.workers or 2 * (os.cpu_count() or 1)
    # Create the master key before forking, so that the workers never race to create it.
    load_master_key(Path(settings.security.master_key_file))
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
        "loglevel": "info",
    }
    log.info("gateway.starting bind=%s workers=%s threads=%s", gw.bind, workers, gw.threads)
    _Gunicorn(settings, options).run()
