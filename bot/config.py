"""Typed settings loaded from config.toml; any mistake stops start-up with file, key and reason."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.adapters.config import AdaptersSettings
from bot.kernel.durations import Duration
from bot.settings_loader import ConfigError, load_section, raise_all, secret
from intents.config import FaqSettings
from keywords.config import KeywordRuleConfig, WelcomeConfig
from members.config import MemberTagRule
from moderation.config import ModerationSettings
from schedules.config import CampaignConfig, PostConfig, ScheduleSettings

DEFAULT_CONFIG = "config.toml"


@dataclass(frozen=True)
class BotSettings:
    """The bot itself: its name, clock, data folder and database."""

    # the bot's display name in chats, /help and the simulator; members @ it by this name
    name: str = "小Q"
    # IANA time zone for schedules, time windows, reports and the console
    timezone: str = "Asia/Shanghai"
    # seed the simulator's demo groups, members and rules once, when the database is new
    demo: bool = False
    # folder for the database and generated files; relative to the config file's folder
    data_dir: str = "./data"
    # SQLite file name inside data_dir, or an absolute path
    database: str = "qunbot.db"
    # longer messages are recorded truncated and flagged, never dropped
    max_text_length: int = 4000
    # `qunbot prune` default: messages and decision traces older than this are deleted ("0": keep)
    retention: Duration = Duration(180 * 86400)

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: 未知的时区 {self.timezone!r}（如 \"Asia/Shanghai\"）") from None
        if self.max_text_length < 1:
            raise ValueError("max_text_length: 必须大于 0")


# a console session longer than a year is a mistake in the unit, not a wish
MAX_SESSION_HOURS = 8760


@dataclass(frozen=True)
class ConsoleSettings:
    """The admin console and the HTTP server that also takes the platforms' callbacks."""

    # the console pages; only checked today to refuse a config with nothing to run
    enabled: bool = True
    # address the one HTTP server (console and platform callbacks) listens on; `run --host` overrides
    host: str = "127.0.0.1"
    # TCP port of that server; `run --port` overrides
    port: int = 8080
    # signs session cookies; empty means a random key kept in the data directory
    secret: str = secret("")
    # a login lasts this many hours (0 < hours <= 8760); logout and password changes end it sooner
    session_hours: float = 12.0
    # wrong passwords in a row that lock the account for 5 minutes (failures 15 minutes apart are forgotten)
    max_login_failures: int = 5
    # serve /metrics (Prometheus, no login): keep the console on 127.0.0.1 or filter it in the proxy
    metrics: bool = True
    # reverse proxies (IPs or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed;
    # empty: the TCP peer is the client and only a direct TLS connection counts as HTTPS
    trusted_proxies: list[str] = field(default_factory=list)

    def validate(self) -> None:
        import math

        from bot.web.proxies import parse_networks

        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} 不是有效的 TCP 端口（0-65535）")
        if self.secret and len(self.secret) < 16:
            raise ValueError("secret: 至少要 16 个字符")
        if not math.isfinite(self.session_hours) or not 0 < self.session_hours <= MAX_SESSION_HOURS:
            raise ValueError(f"session_hours: 必须大于 0 且不超过 {MAX_SESSION_HOURS}（一年），"
                             f"实际是 {self.session_hours}")
        if self.max_login_failures < 1:
            raise ValueError(f"max_login_failures: 至少为 1，实际是 {self.max_login_failures}"
                             "（0 或更小会让每个账号第一次输错就被锁定）")
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"trusted_proxies: {exc}") from None


@dataclass(frozen=True)
class OutboxSettings:
    """Rate limits and retries of everything sent (replies, posts, platform actions)."""

    # sends to one chat in any sliding 60 s window, on top of each adapter's own limits
    per_target_per_minute: int = 20
    # sends through one adapter in any sliding 60 s window
    per_adapter_per_minute: int = 600
    # tries of a transient failure before the delivery is marked failed
    max_attempts: int = 5
    # first retry delay; it doubles per attempt up to retry_max, with jitter of x0.5-1.5
    retry_base: Duration = Duration(2)
    # the longest delay between two tries
    retry_max: Duration = Duration(300)
    # a reply the rate limits held back this long is dropped, not sent late ("0": never)
    reply_ttl: Duration = Duration(600)

    def validate(self) -> None:
        if self.per_target_per_minute < 1 or self.per_adapter_per_minute < 1:
            raise ValueError(
                "per_target_per_minute: 限速至少为每分钟 1 条（per_target_per_minute 和 per_adapter_per_minute）"
            )
        if self.max_attempts < 1:
            raise ValueError("max_attempts: 至少为 1")


@dataclass(frozen=True)
class ReportsSettings:
    """Optional daily summary posted to a managers' chat (name, chat id or platform:chat_id)."""

    # the chat that gets the summary (name, chat id or platform:chat_id); empty: no summary
    daily_summary_chat: str = ""
    # local time of day (HH:MM, in bot.timezone) the summary is posted
    daily_summary_time: str = "21:00"

    def validate(self) -> None:
        hh, sep, mm = self.daily_summary_time.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"daily_summary_time: 应写成 HH:MM（如 \"21:00\"），实际是 {self.daily_summary_time!r}")


@dataclass(frozen=True)
class LoggingSettings:
    """What the process logs, and how."""

    # the lowest level written to standard error
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "text" for people, "json" for one JSON object per line (with the message id where there is one)
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class GroupConfig:
    """A chat declared in config: its tags and managers' name for it."""

    # the platform's chat id (OneBot group number, WeCom chat id, simulator id)
    id: str
    # managers' name for the chat, shown in the console and usable in rules and schedules
    name: str = ""
    # adapter the chat belongs to: sim, wecom, mp, onebot, qq or webhook
    platform: str = "sim"
    # tags that scope keyword rules, FAQ entries and posts (e.g. 宝妈, VIP)
    tags: list[str] = field(default_factory=list)
    # member ids of this chat's moderators: their messages skip moderation, they may use /mute etc.
    moderators: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """Everything config.toml can say."""

    bot: BotSettings = field(default_factory=BotSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    adapters: AdaptersSettings = field(default_factory=AdaptersSettings)
    groups: list[GroupConfig] = field(default_factory=list)
    keywords: list[KeywordRuleConfig] = field(default_factory=list)
    welcome: list[WelcomeConfig] = field(default_factory=list)
    faq: FaqSettings = field(default_factory=FaqSettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    campaigns: list[CampaignConfig] = field(default_factory=list)
    posts: list[PostConfig] = field(default_factory=list)
    reports: ReportsSettings = field(default_factory=ReportsSettings)
    # tags members get by rule (joined a tagged group, asked an FAQ entry, silent, active)
    member_tags: list[MemberTagRule] = field(default_factory=list)
    # where the file was read from; relative paths resolve against its folder
    source: str = ""

    @property
    def base_dir(self) -> Path:
        return Path(self.source).resolve().parent if self.source else Path.cwd()

    @property
    def data_dir(self) -> Path:
        return self.resolve_path(self.bot.data_dir)

    @property
    def database_path(self) -> Path:
        db = Path(self.bot.database)
        return db if db.is_absolute() else self.data_dir / db

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot.timezone)

    def resolve_path(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def load_settings(path: str | Path = DEFAULT_CONFIG) -> Settings:
    """Read and validate a config file; raises ConfigError (a ConfigErrors listing every mistake)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "找不到配置文件") from None
    except OSError as exc:
        raise ConfigError(path, "", f"无法读取：{exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "不是 UTF-8 编码的文本") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"TOML 格式错误：{exc}") from None
    errors: list[ConfigError] = []
    if "source" in data:
        # not a config key (set from the file's location): reported with the rest
        errors.append(ConfigError(path, "source", "未知的配置项（source 由程序自动设置，请删除）"))
        data = {k: v for k, v in data.items() if k != "source"}
    try:
        settings = settings_from_dict(data, path)
    except ConfigError as exc:
        raise_all(errors + exc.errors)
        raise
    raise_all(errors)
    return settings


def settings_from_dict(data: dict, path: str | Path | None = None) -> Settings:
    # raises one ConfigErrors with every section's mistakes; cross-references are checked once those are fixed
    settings = load_section(Settings, data, "", path)
    object.__setattr__(settings, "source", str(Path(path).resolve()) if path else "")
    raise_all(_check_cross_references(settings, path) + _check_keyword_patterns(settings, path))
    return settings


def _check_keyword_patterns(settings: Settings, path: str | Path | None) -> list[ConfigError]:
    """The slow-regex measurement, here too, so `check-config` refuses what `run` would."""
    from keywords.regexcheck import check_patterns

    at = [i for i, rule in enumerate(settings.keywords) if rule.match == "regex"]
    if not at:
        return []
    specs = [settings.keywords[i].spec() for i in at]
    errors = check_patterns([(spec["keyword"], spec["normalize"]) for spec in specs])
    return [ConfigError(path, f"keywords[{at[j]}].keyword", errors[j]) for j in sorted(errors)]


def _check_cross_references(settings: Settings, path: str | Path | None) -> list[ConfigError]:
    errors: list[ConfigError] = []
    seen: set[tuple[str, str]] = set()
    for i, group in enumerate(settings.groups):
        key = (group.platform, group.id)
        if key in seen:
            errors.append(ConfigError(path, f"groups[{i}].id", f"群 {group.id!r} 重复"))
        seen.add(key)
    enabled = settings.adapters.enabled_names()
    if not enabled and not settings.console.enabled:
        errors.append(ConfigError(path, "adapters", "没有启用任何适配器，控制台也已关闭：没有可运行的内容"))
    return errors
