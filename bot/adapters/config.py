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
            raise ValueError(f"{key}: 启用该适配器时必须填写")


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
            raise ValueError("encoding_aes_key: 必须是 43 个字符")


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
            raise ValueError("encoding_aes_key: 必须是 43 个字符")
        if self.reply_wait > 4.5:
            raise ValueError("reply_wait: 最多 4.5 秒（微信要求 5 秒内回复，需留出余量）")


@dataclass(frozen=True)
class WebhookSettings:
    name: str
    url: str = field(metadata={"secret": True})
    replay_window: Duration = REPLAY_WINDOW

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url: 必须以 http:// 或 https:// 开头")


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
            raise ValueError(f"extension_actions: 未知的动作 {unknown[0]!r}（可用：{'、'.join(EXTENSION_ACTIONS)}）")
        for path_key in ("ws_path", "http_path"):
            if not getattr(self, path_key).startswith("/"):
                raise ValueError(f"{path_key}: 必须以 / 开头")
        if self.api_url and not self.api_url.startswith(("http://", "https://")):
            raise ValueError("api_url: 必须以 http:// 或 https:// 开头")
        if self.action_timeout <= 0:
            raise ValueError("action_timeout: 必须大于 0")
        # v11's secret signs HTTP POSTs; v12 has no secret, so only the token authenticates it
        authenticated = bool(self.access_token or (self.version == 11 and self.secret))
        if self.enabled and not authenticated and not self.allow_unauthenticated:
            needed = "必须填写（或填写 secret）" if self.version == 11 else "v12 必须填写（v12 没有 secret）"
            raise ValueError(
                f"access_token: {needed}：否则任何能连上机器人的人都能伪造事件、驱动它执行动作；"
                "如确实接受这一风险，请设置 allow_unauthenticated = true")


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
                raise ValueError("webhook: 每个机器人都要有名称（name）")
            if names.count(name) > 1:
                raise ValueError(f"webhook: 机器人名称 {name!r} 重复")

    def enabled_names(self) -> list[str]:
        names = [n for n in ("sim", "wecom", "mp", "onebot") if getattr(self, n).enabled]
        if self.webhook:
            names.append("webhook")
        return names
