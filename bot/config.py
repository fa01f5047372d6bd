"""Typed settings loaded from config.toml; any mistake stops start-up with file, key and reason."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.adapters.config import AdaptersSettings
from bot.durations import Duration
from bot.settings_loader import ConfigError, load_section, secret
from intents.config import FaqSettings
from keywords.config import KeywordRuleConfig, WelcomeConfig
from moderation.config import ModerationSettings
from schedules.config import CampaignConfig, PostConfig, ScheduleSettings

DEFAULT_CONFIG = "config.toml"


@dataclass(frozen=True)
class BotSettings:
    name: str = "小Q"
    timezone: str = "Asia/Shanghai"
    demo: bool = False
    data_dir: str = "./data"
    database: str = "qunbot.db"
    # longer messages are recorded truncated and flagged, never dropped
    max_text_length: int = 4000
    # `qunbot prune` default: messages and decision traces older than this are deleted ("0": keep)
    retention: Duration = Duration(180 * 86400)

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r} (e.g. \"Asia/Shanghai\")") from None
        if self.max_text_length < 1:
            raise ValueError("max_text_length: must be positive")


# a console session longer than a year is a mistake in the unit, not a wish
MAX_SESSION_HOURS = 8760


@dataclass(frozen=True)
class ConsoleSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    # signs session cookies; empty means a random key kept in the data directory
    secret: str = secret("")
    session_hours: float = 12.0
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
            raise ValueError(f"port: {self.port} is not a TCP port")
        if self.secret and len(self.secret) < 16:
            raise ValueError("secret: must be at least 16 characters")
        if not math.isfinite(self.session_hours) or not 0 < self.session_hours <= MAX_SESSION_HOURS:
            raise ValueError(f"session_hours: must be more than 0 and at most {MAX_SESSION_HOURS} (one year),"
                             f" got {self.session_hours}")
        if self.max_login_failures < 1:
            raise ValueError(f"max_login_failures: must be at least 1, got {self.max_login_failures}"
                             " (0 or less would lock every account at its first mistake)")
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"trusted_proxies: {exc}") from None


@dataclass(frozen=True)
class OutboxSettings:
    per_target_per_minute: int = 20
    per_adapter_per_minute: int = 600
    max_attempts: int = 5
    retry_base: Duration = Duration(2)
    retry_max: Duration = Duration(300)
    # a reply the rate limits held back this long is dropped, not sent late ("0": never)
    reply_ttl: Duration = Duration(600)

    def validate(self) -> None:
        if self.per_target_per_minute < 1 or self.per_adapter_per_minute < 1:
            raise ValueError("rate limits must be at least 1 per minute")
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")


@dataclass(frozen=True)
class ReportsSettings:
    """Optional daily summary posted to a managers' chat (name, chat id or platform:chat_id)."""

    daily_summary_chat: str = ""
    daily_summary_time: str = "21:00"

    def validate(self) -> None:
        hh, sep, mm = self.daily_summary_time.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"daily_summary_time: expected HH:MM such as \"21:00\", got {self.daily_summary_time!r}")


@dataclass(frozen=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class GroupConfig:
    """A chat declared in config: its tags and managers' name for it."""

    id: str
    name: str = ""
    platform: str = "sim"
    tags: list[str] = field(default_factory=list)
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
    """Read and validate a config file; raises ConfigError naming file, key and reason."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"invalid TOML: {exc}") from None
    if "source" in data:
        raise ConfigError(path, "source", "unknown key")
    return settings_from_dict(data, path)


def settings_from_dict(data: dict, path: str | Path | None = None) -> Settings:
    settings = load_section(Settings, data, "", path)
    object.__setattr__(settings, "source", str(Path(path).resolve()) if path else "")
    _check_cross_references(settings, path)
    return settings


def _check_cross_references(settings: Settings, path: str | Path | None) -> None:
    seen: set[tuple[str, str]] = set()
    for i, group in enumerate(settings.groups):
        key = (group.platform, group.id)
        if key in seen:
            raise ConfigError(path, f"groups[{i}].id", f"duplicate group {group.id!r}")
        seen.add(key)
    enabled = settings.adapters.enabled_names()
    if not enabled and not settings.console.enabled:
        raise ConfigError(path, "adapters", "no adapter is enabled and the console is off: nothing to run")
