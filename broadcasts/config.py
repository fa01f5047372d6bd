"""The [broadcast] section of config.toml."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BroadcastSettings:
    """One-off broadcasts (群发, docs/broadcast.md)."""

    # true: a broadcast is sent only after a different console account (or `--by` user) approves it
    approval: bool = False
    # how often the running bot looks for broadcasts created, approved or cancelled from a shell
    poll_seconds: float = 1.0

    def validate(self) -> None:
        if not 0.05 <= self.poll_seconds <= 60:
            raise ValueError("poll_seconds: 应在 0.05 到 60 秒之间")
