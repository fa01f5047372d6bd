"""Changing rules: validate (including the slow-regex measurement), save, sync from config.

Used by the stage at start-up (config sync), the CLI, the importer and the console, so every
way in applies the same checks. Functions here block (SQLite, regex subprocess): call them
from a worker thread on the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.settings_loader import ConfigError
from bot.store import Store
from bot.targets import suggest
from keywords.regexcheck import check_patterns
from keywords.rules import RuleError, clean_rule
from keywords.welcome import clean_welcome

if TYPE_CHECKING:
    from keywords.config import KeywordRuleConfig, WelcomeConfig

ERR_CONFIG_RULE = "该规则来自 config.toml，只能在配置文件中修改"


class ConfigRules(Protocol):
    """What `sync_config` reads of the settings (bot.config.Settings provides it)."""

    @property
    def keywords(self) -> Sequence[KeywordRuleConfig]: ...
    @property
    def welcome(self) -> Sequence[WelcomeConfig]: ...
    @property
    def source(self) -> str: ...


def validate_rules(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any] | RuleError]:
    """Clean each row; regex rules are also measured (one subprocess for the whole batch)."""
    results: list[dict[str, Any] | RuleError] = []
    for row in rows:
        try:
            results.append(clean_rule(row))
        except RuleError as exc:
            results.append(exc)
    regex_at = [i for i, r in enumerate(results) if isinstance(r, dict) and r["match"] == "regex"]
    if regex_at:
        # regex_at holds only the indexes of dicts, which mypy cannot follow through the list
        slow = check_patterns([(results[i]["keyword"], results[i]["normalize"]) for i in regex_at])  # type: ignore[index]
        for j, reason in slow.items():
            results[regex_at[j]] = RuleError({"keyword": reason})
    return results


def validate_rule(data: dict[str, Any]) -> dict[str, Any]:
    result = validate_rules([data])[0]
    if isinstance(result, RuleError):
        raise result
    return result


def save_rule(store: Store, data: dict[str, Any], *, source: str, actor: str = "", rowid: int | None = None) -> int:
    """Create (rowid None) or update one rule; raises RuleError with zh-CN reasons per field."""
    return store_rule(store, validate_rule(data), source=source, actor=actor, rowid=rowid)


def store_rule(store: Store, spec: dict[str, Any], *, source: str, actor: str = "", rowid: int | None = None) -> int:
    """Write an already validated spec (fast; run on the store thread); raises RuleError on id clashes."""
    spec = dict(spec)
    existing = store.keywords.get_rule(rowid) if rowid is not None else None
    if rowid is not None and existing is None:
        raise RuleError({"id": f"规则 #{rowid} 不存在"})
    if existing and existing["source"] == "config":
        raise RuleError({"id": ERR_CONFIG_RULE})
    check_member_tags(store, spec)
    if spec["id"]:
        other = store.keywords.get_rule_by_name(spec["id"])
        if other and (existing is None or other["id"] != existing["id"]):
            raise RuleError({"id": f"编号 {spec['id']} 已被其他规则使用"})
    elif existing:
        spec["id"] = existing["name"]
    if existing and existing["name"] != spec["id"]:
        store.keywords.rename_rule(existing["id"], spec["id"])
    return store.keywords.save_rules([spec], source=existing["source"] if existing else source, actor=actor)[0]


def check_member_tags(store: Store, spec: dict[str, Any]) -> None:
    """A member-tag target must name a tag that exists (a member has it, or a [[member_tags]]
    rule gives it): a misspelt VIP would silently answer nobody."""
    wanted = spec.get("member_tags") or []
    if not wanted:
        return
    known = store.members.known_tags()
    unknown = [t for t in wanted if t not in known]
    if unknown:
        close = [c for t in unknown for c in suggest(t, known) if c not in wanted]
        hint = f"，您是不是要找：{'、'.join(dict.fromkeys(close))}" if close else ""
        raise RuleError({"member_tags": f"未知的成员标签：{'、'.join(unknown)}{hint}"
                                        "（先给成员加上该标签，或在 [[member_tags]] 中配置）"})


def sync_config(store: Store, settings: ConfigRules) -> dict[str, int]:
    """Replace the 'config' rules and welcomes with config.toml's; other rules are untouched."""
    specs = [rule.spec() for rule in settings.keywords]
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec["id"] in seen:
            raise ConfigError(
                settings.source,
                f"keywords[{i}].id",
                f"规则编号 {spec['id']!r} 重复（与 keywords[{seen[spec['id']]}] 相同，请给其中一条指定 id）",
            )
        seen[spec["id"]] = i
    regex_at = [i for i, s in enumerate(specs) if s["match"] == "regex"]
    slow = check_patterns([(specs[i]["keyword"], specs[i]["normalize"]) for i in regex_at])
    for j, reason in slow.items():
        raise ConfigError(settings.source, f"keywords[{regex_at[j]}].keyword", reason)
    try:
        counts = store.keywords.replace_config_rules(specs)
    except ValueError as exc:
        raise ConfigError(settings.source, "keywords", str(exc)) from None
    welcomes = [w.spec() for w in settings.welcome]
    names = [w["id"] for w in welcomes]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ConfigError(settings.source, f"welcome[{i}].id", f"欢迎语编号 {name!r} 重复")
    store.keywords.replace_config_welcome(welcomes)
    return counts


def save_welcome(store: Store, data: dict[str, Any], *, rowid: int | None = None) -> int:
    spec = clean_welcome(data)
    check_member_tags(store, spec)
    existing = store.keywords.get_welcome(rowid) if rowid is not None else None
    if existing and existing["source"] == "config":
        raise RuleError({"id": ERR_CONFIG_RULE})
    if existing and not spec["id"]:
        spec["id"] = existing["name"]
    return store.keywords.save_welcome(spec, source="console")
