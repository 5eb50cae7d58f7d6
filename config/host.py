"""What the configuration checks ask of the machine they run on (does this port, this key file
exist; may this user read it; who else may), asked through `Host` so that the checks run in tests
on a made-up machine: `hoso check-config` (`config.check`) and the carrier links' checks
(`config.links`) alike."""

from __future__ import annotations

import os
import stat
from typing import Protocol


class Host(Protocol):
    """What the checks ask of the machine they run on."""

    def exists(self, path: str) -> bool: ...

    def readable(self, path: str) -> bool: ...

    def mode(self, path: str) -> int | None:
        """Permission bits of a file, None when it does not exist."""
        ...


class LocalHost:
    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def readable(self, path: str) -> bool:
        return os.access(path, os.R_OK)

    def mode(self, path: str) -> int | None:
        try:
            return stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            return None
