"""Settings of each adapter, as written under [adapters.*] in config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.kernel.durations import Duration

# requests whose timestamp is older than this are refused; "0" turns the check off
REPLAY_WINDOW = Duration(300)
# how long a 公众号 callback waits for the pipeline's reply before answering "success"
MP_REPLY_WAIT = Duration(4)
ONEBOT_ACTION_TIMEOUT = Duration(10)
EXTENSION_ACTIONS = ("mute", "unmute", "kick")
# 企业群发 tasks still unconfirmed by their owner this long after submission get one reminder
REMIND_AFTER = Duration(7200)
# how often the 企业群发 progress is asked for (get_groupmsg_task / get_groupmsg_send_result)
GROUPMSG_POLL = Duration(300)
# full re-sync of the customer groups (besides start-up and `qunbot wecom sync`)
CONTACT_SYNC_EVERY = Duration(86400)


class AgentId(str):
    """WeCom's AgentId: the admin shows it as a number (1000002); a string is accepted too."""

    __slots__ = ()
    # how docs/config.md names the type
    config_type = "integer or string"

    @classmethod
    def from_config(cls, value: object) -> AgentId:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"应为整数或字符串（如 1000002），实际是 {value!r}")
        return cls(str(value))


NO_AGENT = AgentId("")


def _require(enabled: bool, **values: str) -> None:
    if not enabled:
        return
    for key, value in values.items():
        if not value:
            raise ValueError(f"{key}: 启用该适配器时必须填写")


@dataclass(frozen=True)
class SimSettings:
    """The built-in simulator: try rules from the console without a real platform."""

    # run the simulator platform: groups and members that live in the console (群聊模拟器 page)
    enabled: bool = True
    # accepted but unused: the simulator receives no platform callbacks
    replay_window: Duration = REPLAY_WINDOW


@dataclass(frozen=True)
class WecomSettings:
    """企业微信 self-built application (自建应用): callbacks in, app messages out (docs/platforms.md)."""

    # serve the WeCom app callback and send through the app; needs the five keys below
    enabled: bool = False
    # 企业ID (我的企业 → 企业信息), e.g. "ww0123456789abcdef"; checked inside each encrypted callback
    corp_id: str = ""
    # the app's AgentId (应用管理 → the app), e.g. 1000002 (a number or a string)
    agent_id: AgentId = NO_AGENT
    # the app's Secret, used to fetch the access token for sending
    secret: str = field(default="", metadata={"secret": True})
    # Token of 接收消息 → 设置API接收; signs every callback
    token: str = field(default="", metadata={"secret": True})
    # EncodingAESKey of 设置API接收 (43 characters); decrypts callbacks
    encoding_aes_key: str = field(default="", metadata={"secret": True})
    # URL path of the callback on the console's server (set https://your.domain<path> in WeCom)
    path: str = "/wecom/callback"
    # base URL of the WeCom server API; change it only to point tests at a local server
    api_base: str = "https://qyapi.weixin.qq.com"
    # callbacks whose signed timestamp is further than this from now are refused (403),
    # and a timestamp + nonce seen within it is refused (409); "0" turns both checks off
    replay_window: Duration = REPLAY_WINDOW
    # Secret of 客户联系 (客户联系 → 客户 → API), or empty when this app is one of its
    # 可调用接口的应用 (then `secret` is used); enables customer groups (客户群): sync, 企业群发,
    # group welcome templates, statistics. May be written as "env:NAME"
    contact_secret: str = field(default="", metadata={"secret": True})
    # turn the customer-group features on while contact_secret is empty (the app's secret is
    # then used, which works once the app is listed under 客户联系 → 可调用接口的应用)
    customer_groups: bool = False
    # the corp's rule for how many 企业群发 each customer group receives (企业微信 → 群发助手 →
    # 设置群发规则): "month" (as many as the month has days), "week" (7 a week) or "day" (1 a day);
    # a post beyond it is refused when it is planned, with the reason in `schedule preview`
    group_msg_limit: Literal["month", "week", "day"] = "month"
    # a 企业群发 task its owner has not confirmed this long after submission gets a reminder
    # (remind_groupmsg_send; WeCom allows 3 a day per task)
    remind_after: Duration = REMIND_AFTER
    # how often the owners' progress on 企业群发 tasks is asked for
    poll_every: Duration = GROUPMSG_POLL
    # full re-sync of the customer groups and their members (also at start and on demand)
    sync_every: Duration = CONTACT_SYNC_EVERY

    @property
    def contact_enabled(self) -> bool:
        """Customer groups (客户联系) are served: a contact secret, or explicitly with the app's."""
        return self.enabled and bool(self.contact_secret or self.customer_groups)

    def validate(self) -> None:
        _require(self.enabled, corp_id=self.corp_id, agent_id=self.agent_id, secret=self.secret,
                 token=self.token, encoding_aes_key=self.encoding_aes_key)
        if self.encoding_aes_key and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key: 必须是 43 个字符")
        if self.poll_every <= 0:
            raise ValueError("poll_every: 必须大于 0（企业群发进度的查询间隔）")
        if self.sync_every <= 0:
            raise ValueError("sync_every: 必须大于 0（客户群全量同步的间隔）")


@dataclass(frozen=True)
class MpSettings:
    """微信公众号 server callback: followers' messages in, passive replies and 客服消息 out."""

    # serve the 公众号 server callback and reply to followers; needs app_id, app_secret and token
    enabled: bool = False
    # the account's AppID (设置与开发 → 基本配置), e.g. "wx0123456789abcdef"
    app_id: str = ""
    # the account's AppSecret, used to fetch the access token for 客服消息
    app_secret: str = field(default="", metadata={"secret": True})
    # Token of 服务器配置; signs every callback
    token: str = field(default="", metadata={"secret": True})
    # EncodingAESKey (43 characters) for 兼容模式 / 安全模式; empty for 明文模式.
    # When set, plaintext callbacks are refused
    encoding_aes_key: str = field(default="", metadata={"secret": True})
    # URL path of the callback on the console's server (服务器配置 URL: https://your.domain<path>)
    path: str = "/mp/callback"
    # base URL of the WeChat server API; change it only to point tests at a local server
    api_base: str = "https://api.weixin.qq.com"
    # callbacks whose signed timestamp is further than this from now are refused (403),
    # and a timestamp + nonce seen within it is refused (409); "0" turns both checks off
    replay_window: Duration = REPLAY_WINDOW
    # how long a callback waits for the answer to send it as the passive reply (at most 4.5s);
    # later answers go out as 客服消息; "0" never waits
    reply_wait: Duration = MP_REPLY_WAIT

    def validate(self) -> None:
        _require(self.enabled, app_id=self.app_id, app_secret=self.app_secret, token=self.token)
        if self.encoding_aes_key and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key: 必须是 43 个字符")
        if self.reply_wait > 4.5:
            raise ValueError("reply_wait: 最多 4.5 秒（微信要求 5 秒内回复，需留出余量）")


@dataclass(frozen=True)
class WebhookSettings:
    """One 企业微信 group robot (群机器人): a send-only target for announcements, 20 messages a minute."""

    # the robot's chat id on the `webhook` platform (target it from posts/campaigns); unique
    name: str
    # the robot's webhook URL (…/cgi-bin/webhook/send?key=…); its key is a secret, never logged
    url: str = field(metadata={"secret": True})
    # accepted but unused: a group robot only sends, it receives no callbacks
    replay_window: Duration = REPLAY_WINDOW

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url: 必须以 http:// 或 https:// 开头")


@dataclass(frozen=True)
class OnebotSettings:
    """A OneBot v11/v12 implementation (personal WeChat or QQ groups) over WebSocket or HTTP."""

    # accept a OneBot implementation (personal WeChat / QQ groups) on ws_path and http_path
    enabled: bool = False
    # OneBot protocol version the implementation speaks: 11 or 12
    version: Literal[11, 12] = 11
    # token the implementation sends (Authorization: Bearer, or ?access_token=); required
    # for the reverse WebSocket and for v12; also sent to api_url
    access_token: str = field(default="", metadata={"secret": True})
    # v11 HTTP POST only: events must carry X-Signature = sha1=HMAC-SHA1(secret, body)
    secret: str = field(default="", metadata={"secret": True})
    # URL path of the reverse WebSocket the implementation connects to; must start with /
    ws_path: str = "/onebot/ws"
    # URL path for HTTP POST events (v11) / the webhook (v12); must start with /
    http_path: str = "/onebot/http"
    # the implementation's HTTP API, for actions when no WebSocket is connected
    api_url: str = ""
    # the bot's own account id (used to tell @bot); empty: learnt from the first socket's X-Self-ID
    self_id: str = ""
    # v12 has no standard mute/kick: map mute, unmute, kick to the implementation's extension actions,
    # e.g. {kick = "wx.delete_groupmember"}; without a mapping it is unavailable and moderation degrades
    extension_actions: dict[str, str] = field(default_factory=dict)
    # HTTP POST events whose `time` is further than this from now are refused (403), and
    # the same body again within it (409); "0" turns both checks off
    replay_window: Duration = REPLAY_WINDOW
    # an action (send, recall, mute…) unanswered this long counts as uncertain and is
    # never repeated automatically; must be positive
    action_timeout: Duration = ONEBOT_ACTION_TIMEOUT
    # true: start without access_token (or secret) and accept sockets without a token: anyone reaching the
    # port can post events and drive actions (warned at every start); only for a bridge nobody else reaches
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


QQ_API = "https://api.sgroup.qq.com"
QQ_SANDBOX_API = "https://sandbox.api.sgroup.qq.com"


@dataclass(frozen=True)
class QqSettings:
    """QQ official bot (QQ 机器人开放平台): webhook events in, passive replies out (docs/platforms.md)."""

    # serve the QQ bot webhook and reply through the bot's OpenAPI; needs app_id and app_secret
    enabled: bool = False
    # the bot's AppID (开发 → 开发设置 → AppID), e.g. "102000001"
    app_id: str = ""
    # the bot's AppSecret (开发设置 → AppSecret): signs the webhook (Ed25519) and fetches the access token
    app_secret: str = field(default="", metadata={"secret": True})
    # URL path of the webhook on the console's server (回调配置 → 回调地址 https://your.domain<path>)
    path: str = "/qq/callback"
    # true: talk to the sandbox OpenAPI (sandbox.api.sgroup.qq.com), for a bot not yet published
    sandbox: bool = False
    # base URL of the OpenAPI and of getAppAccessToken; empty: the official one (or the sandbox's).
    # Change it only to point tests at a local server
    api_base: str = ""
    # events whose signed X-Signature-Timestamp is further than this from now are refused (403),
    # and the same event again within it is dropped; "0" turns both checks off
    replay_window: Duration = REPLAY_WINDOW
    # proactive messages (scheduled posts, broadcasts, welcomes) allowed per group or user per
    # calendar month (Beijing time). The platform stopped offering them on 2025-04-21, so 0; set 4
    # (the earlier published limit) only if the platform still grants them to your bot
    proactive_per_month: int = 0

    def validate(self) -> None:
        _require(self.enabled, app_id=self.app_id, app_secret=self.app_secret)
        if self.proactive_per_month < 0:
            raise ValueError("proactive_per_month: 不能小于 0")
        if not self.path.startswith("/"):
            raise ValueError("path: 必须以 / 开头")
        if self.api_base and not self.api_base.startswith(("http://", "https://")):
            raise ValueError("api_base: 必须以 http:// 或 https:// 开头")

    @property
    def openapi(self) -> str:
        """The OpenAPI base URL in use."""
        return (self.api_base or (QQ_SANDBOX_API if self.sandbox else QQ_API)).rstrip("/")

    @property
    def proactive_note(self) -> str:
        """What a preview says next to each QQ target of a post or broadcast (zh-CN)."""
        if self.proactive_per_month <= 0:
            return "QQ 机器人不能主动发消息（平台自 2025-04-21 起停止），发往 QQ 的这一条不会送达"
        return f"QQ 主动消息每群/每用户每月最多 {self.proactive_per_month} 条，超出的不会送达"

    @property
    def token_url(self) -> str:
        """getAppAccessToken: bots.qq.com for both the sandbox and the real API; under api_base in tests."""
        base = self.api_base.rstrip("/") if self.api_base else "https://bots.qq.com"
        return base + "/app/getAppAccessToken"


@dataclass(frozen=True)
class AdaptersSettings:
    """The platforms the bot connects to; see docs/platforms.md for each one's setup."""

    sim: SimSettings = field(default_factory=SimSettings)
    wecom: WecomSettings = field(default_factory=WecomSettings)
    mp: MpSettings = field(default_factory=MpSettings)
    webhook: list[WebhookSettings] = field(default_factory=list)
    onebot: OnebotSettings = field(default_factory=OnebotSettings)
    qq: QqSettings = field(default_factory=QqSettings)

    def validate(self) -> None:
        names = [w.name for w in self.webhook]
        for name in names:
            if not name:
                raise ValueError("webhook: 每个机器人都要有名称（name）")
            if names.count(name) > 1:
                raise ValueError(f"webhook: 机器人名称 {name!r} 重复")

    def send_notes(self) -> dict[str, str]:
        """Per platform, what a preview of a post or broadcast must say about sending there:
        limits the platform puts on messages nobody asked for (read by schedules, by attribute)."""
        return {"qq": self.qq.proactive_note} if self.qq.enabled else {}

    def enabled_names(self) -> list[str]:
        names = [n for n in ("sim", "wecom", "mp", "onebot", "qq") if getattr(self, n).enabled]
        if self.webhook:
            names.append("webhook")
        return names
