"""What every `hoso` command starts from: the settings, read once (a bad file stops the command
with one line), and, for the commands that work on the store, a Redis client. Heavy modules are
imported by the command that needs them, never here."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypeAlias

from config.loader import ConfigError, load_settings
from config.settings import Settings

if TYPE_CHECKING:
    import redis

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def configured() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"hoso: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def store_client(settings: Settings) -> redis.Redis:
    """The store's client for the configured Redis (it waits for no replica)."""
    from gateway.store.connect import connect_redis

    return connect_redis(settings.redis.effective_url())
