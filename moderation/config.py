"""[moderation] section of config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.durations import Duration, parse_duration

# Actions a word or rule may ask for, weakest first (the strongest hit of a message wins).
ACTIONS = ("allow", "review", "recall", "warn", "strike", "mute", "kick")
ACTION_RANK = {name: i for i, name in enumerate(ACTIONS)}
LADDER_STEPS = ("warn", "mute", "kick")

DEFAULT_CATEGORY_ACTIONS = {
    "政治": "strike", "色情": "strike", "赌博": "strike", "广告": "strike", "违法": "strike",
    "辱骂": "strike", "竞品": "review", "其他": "review",
}


def check_action(value: str, key: str) -> None:
    if value not in ACTION_RANK:
        raise ValueError(f"{key}: 未知的处理方式 {value!r}（可用：{'、'.join(ACTIONS)}）")


def parse_step(step: str) -> tuple[str, float]:
    """A ladder step "warn", "mute:1d" or "kick" as (action, seconds)."""
    name, _, duration = step.partition(":")
    if name not in LADDER_STEPS:
        raise ValueError(f"未知的处罚步骤 {step!r}（可用 warn、mute:<时长>、kick）")
    if name == "mute":
        if not duration:
            raise ValueError(f"处罚步骤 {step!r} 需要写时长，如 \"mute:1d\"")
        return name, parse_duration(duration)
    if duration:
        raise ValueError(f"处罚步骤 {step!r} 不能带时长")
    return name, 0.0


@dataclass(frozen=True)
class NormalizeSettings:
    """Which normalisation steps run before matching; each can be switched off."""

    fullwidth: bool = True
    traditional: bool = True
    casefold: bool = True
    # remove punctuation, symbols, emoji and spaces inserted inside words (傻*逼, 微 信)
    noise: bool = True
    noise_chars: str = ""
    # ①②, 𝟙, 𝐀, ❶, Cyrillic/Greek look-alikes, ➕ → 加
    variants: bool = True
    # 一二三 / 壹贰叁 → 123
    chinese_numerals: bool = True
    # extra one-to-one replacements after case folding, e.g. {o = "0", l = "1"}
    confusables: dict[str, str] = field(default_factory=dict)
    # runs of `repeat_min` or more identical characters collapse to one (傻傻傻逼)
    repeats: bool = True
    repeat_min: int = 3
    # homophone matching through pypinyin (measured, off by default)
    pinyin: bool = False

    def validate(self) -> None:
        for key, value in self.confusables.items():
            if len(key) != 1 or len(value) != 1:
                raise ValueError(f"confusables: {key!r} = {value!r} 必须是一个字符对应一个字符")
        if self.repeat_min < 2:
            raise ValueError("repeat_min: 至少为 2")


@dataclass(frozen=True)
class RuleSettings:
    """Rules beyond words: links, contacts, shares, flooding, rate."""

    links: bool = True
    link_action: str = "review"
    allowed_domains: list[str] = field(default_factory=list)
    new_member_link_action: str = "strike"
    new_member_window: Duration = Duration(86400)
    phones: bool = True
    phone_action: str = "review"
    wechat: bool = True
    wechat_action: str = "strike"
    solicit_action: str = "review"
    attachments: dict[str, str] = field(default_factory=lambda: {
        "qrcode": "review", "miniprogram": "review", "card": "review", "redpacket": "allow",
    })
    flood: bool = True
    flood_window: Duration = Duration(60)
    flood_repeats: int = 3
    flood_members: int = 4
    flood_min_length: int = 6
    flood_action: str = "strike"
    rate: bool = True
    rate_limit: int = 20
    rate_window: Duration = Duration(60)
    rate_action: str = "mute"
    spam_score: bool = True
    spam_threshold: float = 0.999
    spam_action: str = "review"

    def validate(self) -> None:
        for key in ("link_action", "new_member_link_action", "phone_action", "wechat_action",
                    "solicit_action", "flood_action", "rate_action", "spam_action"):
            check_action(getattr(self, key), key)
        for kind, action in self.attachments.items():
            if kind not in ("qrcode", "miniprogram", "card", "redpacket", "image", "link"):
                raise ValueError(f"attachments: 未知的附件类型 {kind!r}（可用：qrcode、miniprogram、card、redpacket、image、link）")
            check_action(action, f"attachments.{kind}")
        if not 0 < self.spam_threshold < 1:
            raise ValueError("spam_threshold: 必须大于 0 且小于 1")
        if min(self.flood_repeats, self.flood_members, self.rate_limit) < 2:
            raise ValueError("flood_repeats、flood_members 和 rate_limit 都至少为 2")


@dataclass(frozen=True)
class ModerationSettings:
    enabled: bool = True
    # moderators registered for a group are never moderated there
    exempt_moderators: bool = True
    # default action per lexicon category; a word's own action wins
    categories: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_ACTIONS))
    ladder: list[str] = field(default_factory=lambda: ["warn", "mute:1d", "mute:7d", "mute:15d", "kick"])
    strike_expiry: Duration = Duration(30 * 86400)
    mute_duration: Duration = Duration(86400)
    warn_text: str = "@{name} 您的消息因{reason}已被处理，请遵守群规。"
    # tell the group's moderators privately when a message is held or a member is removed
    notify_moderators: bool = True
    # a held message approved this soon gets the keyword/FAQ answer it was held from ("0": never)
    answer_approved_within: Duration = Duration(600)
    normalize: NormalizeSettings = field(default_factory=NormalizeSettings)
    rules: RuleSettings = field(default_factory=RuleSettings)

    def validate(self) -> None:
        try:
            self.warn_text.format(name="成员", reason="广告", action="警告")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"warn_text: 只能使用 {{name}}、{{reason}} 和 {{action}} 占位符（{exc}）") from None
        for category, action in self.categories.items():
            check_action(action, f"categories.{category}")
        if not self.ladder:
            raise ValueError("ladder: 至少要有一个步骤")
        for i, step in enumerate(self.ladder):
            try:
                parse_step(step)
            except ValueError as exc:
                raise ValueError(f"ladder[{i}]: {exc}") from None

    def category_action(self, category: str) -> str:
        return self.categories.get(category, self.categories.get("其他", "review"))
