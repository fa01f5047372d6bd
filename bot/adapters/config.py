"""Settings of each adapter, as written under [adapters.*] in config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.durations import Duration

# requests whose timestamp is older than this are refused; "0" turns the check off
REPLAY_WINDOW = Duration(300)
# how long a 公众号 callback waits for the pipeline's reply before answering "success"
MP_REPLY_WAIT = Duration(4)
ONEBOT_ACTION_TIMEOUT = Duration(10)
EXTENSION_ACTIONS = ("mute", "unmute", "kick")


def _require(enabled: bool, **values: str) -> None:
    if not enabled:
        return
    for key, value in values.items():
        if not value:
            raise ValueError(f"{key}: required when the adapter is enabled")


@dataclass(frozen=True)
class SimSettings:
    enabled: bool = True
    replay_window: Duration = REPLAY_WINDOW


@dataclass(frozen=True)
class WecomSettings:
    enabled: bool = False
    corp_id: str = ""
    agent_id: str = ""
    secret: str = field(default="", metadata={"secret": True})
    token: str = field(default="", metadata={"secret": True})
    encoding_aes_key: str = field(default="", metadata={"secret": True})
    path: str = "/wecom/callback"
    api_base: str = "https://qyapi.weixin.qq.com"
    replay_window: Duration = REPLAY_WINDOW

    def validate(self) -> None:
        _require(self.enabled, corp_id=self.corp_id, agent_id=self.agent_id, secret=self.secret,
                 token=self.token, encoding_aes_key=self.encoding_aes_key)
        if self.encoding_aes_key and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key: must be 43 characters")


@dataclass(frozen=True)
class MpSettings:
    enabled: bool = False
    app_id: str = ""
    app_secret: str = field(default="", metadata={"secret": True})
    token: str = field(default="", metadata={"secret": True})
    encoding_aes_key: str = field(default="", metadata={"secret": True})
    path: str = "/mp/callback"
    api_base: str = "https://api.weixin.qq.com"
    replay_window: Duration = REPLAY_WINDOW
    reply_wait: Duration = MP_REPLY_WAIT

    def validate(self) -> None:
        _require(self.enabled, app_id=self.app_id, app_secret=self.app_secret, token=self.token)
        if self.encoding_aes_key and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key: must be 43 characters")
        if self.reply_wait > 4.5:
            raise ValueError("reply_wait: must leave time within WeChat's 5-second deadline (at most 4.5s)")


@dataclass(frozen=True)
class WebhookSettings:
    name: str
    url: str = field(metadata={"secret": True})
    replay_window: Duration = REPLAY_WINDOW

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url: must start with http:// or https://")


@dataclass(frozen=True)
class OnebotSettings:
    enabled: bool = False
    version: Literal[11, 12] = 11
    access_token: str = field(default="", metadata={"secret": True})
    secret: str = field(default="", metadata={"secret": True})
    ws_path: str = "/onebot/ws"
    http_path: str = "/onebot/http"
    # the implementation's HTTP API, for actions when no WebSocket is connected
    api_url: str = ""
    self_id: str = ""
    # v12 has no standard mute/kick: map our actions to an implementation's extension actions
    extension_actions: dict[str, str] = field(default_factory=dict)
    replay_window: Duration = REPLAY_WINDOW
    action_timeout: Duration = ONEBOT_ACTION_TIMEOUT
    # without access_token or secret anyone who reaches the port can post events: say so explicitly
    allow_unauthenticated: bool = False

    def validate(self) -> None:
        unknown = sorted(set(self.extension_actions) - set(EXTENSION_ACTIONS))
        if unknown:
            raise ValueError(f"extension_actions: unknown action {unknown[0]!r} (use {', '.join(EXTENSION_ACTIONS)})")
        for path_key in ("ws_path", "http_path"):
            if not getattr(self, path_key).startswith("/"):
                raise ValueError(f"{path_key}: must start with /")
        if self.api_url and not self.api_url.startswith(("http://", "https://")):
            raise ValueError("api_url: must start with http:// or https://")
        if self.action_timeout <= 0:
            raise ValueError("action_timeout: must be positive")
        # v11's secret signs HTTP POSTs; v12 has no secret, so only the token authenticates it
        authenticated = bool(self.access_token or (self.version == 11 and self.secret))
        if self.enabled and not authenticated and not self.allow_unauthenticated:
            needed = "required (or secret)" if self.version == 11 else "required for v12 (it has no secret)"
            raise ValueError(
                f"access_token: {needed}: without it anyone who can reach the bot can post events "
                "and drive its actions; set allow_unauthenticated = true to accept that")


@dataclass(frozen=True)
class AdaptersSettings:
    sim: SimSettings = field(default_factory=SimSettings)
    wecom: WecomSettings = field(default_factory=WecomSettings)
    mp: MpSettings = field(default_factory=MpSettings)
    webhook: list[WebhookSettings] = field(default_factory=list)
    onebot: OnebotSettings = field(default_factory=OnebotSettings)

    def validate(self) -> None:
        names = [w.name for w in self.webhook]
        for name in names:
            if not name:
                raise ValueError("webhook: every robot needs a name")
            if names.count(name) > 1:
                raise ValueError(f"webhook: robot name {name!r} is used twice")

    def enabled_names(self) -> list[str]:
        names = [n for n in ("sim", "wecom", "mp", "onebot") if getattr(self, n).enabled]
        if self.webhook:
            names.append("webhook")
        return names
