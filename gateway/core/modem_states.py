"""The states a modem or a carrier link publishes in its health (pure), and what they mean for
routing. The stored values are these strings: dashboards, /metrics and routing read them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ModemState(StrEnum):
    STARTING = "starting"  # its owner has not connected yet
    UP = "up"
    DOWN = "down"  # not answering: reconnecting with backoff (`down_since` says since when)
    DISABLED = "disabled"  # switched off by an administrator
    QUARANTINED = "quarantined"  # the network refuses its SIM: nothing is sent through it
    STANDBY = "standby"  # another modem service (host) drives it


class LinkState(StrEnum):
    STARTING = "starting"
    UP = "up"
    DOWN = "down"
    DISABLED = "disabled"
    STANDBY = "standby"  # another `hoso smpp` process drives it
    STOPPED = "stopped"  # its process stopped


def route_down(health: Mapping[str, str], now: float, failover_after: float) -> bool:
    """Whether a modem or link is down for routing: nothing published (its process is gone), or a
    state other than up and starting (down for `failover_after` seconds; quarantined, disabled,
    standing by or stopped at once)."""
    if not health:
        return True
    state = health.get("state", "")
    if state in (ModemState.UP, ModemState.STARTING):
        return False
    if state == ModemState.DOWN:
        since = float(health.get("down_since") or 0.0)
        return since == 0.0 or now - since >= failover_after
    return True
