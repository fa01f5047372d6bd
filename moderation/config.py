"""[moderation] section of config.toml."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.kernel.durations import Duration, parse_duration

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

    # full width → half width (ＶＸ１２３ → vx123)
    fullwidth: bool = True
    # traditional → simplified Chinese, per character (發財 → 发财)
    traditional: bool = True
    # ignore letter case (WeiXin → weixin)
    casefold: bool = True
    # remove punctuation, symbols, emoji and spaces inserted inside words (傻*逼, 微 信)
    noise: bool = True
    # extra characters to treat as noise, on top of the built-in set (needs noise = true)
    noise_chars: str = ""
    # ①②, 𝟙, 𝐀, ❶, Cyrillic/Greek look-alikes, ➕ → 加
    variants: bool = True
    # 一二三 / 壹贰叁 → 123
    chinese_numerals: bool = True
    # extra one-to-one replacements after case folding, e.g. {o = "0", l = "1"}
    confusables: dict[str, str] = field(default_factory=dict)
    # runs of `repeat_min` or more identical characters collapse to one (傻傻傻逼)
    repeats: bool = True
    # shortest run that `repeats` collapses; at least 2 (digits are never collapsed)
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

    # flag links, also obfuscated ones (abc點com); domains in allowed_domains pass
    links: bool = True
    # action for a link: allow, review, recall, warn, strike, mute or kick
    link_action: str = "review"
    # domains whose links pass, subdomains included (e.g. "example.com"); the console's 白名单 adds more
    allowed_domains: list[str] = field(default_factory=list)
    # action for a link from a member who joined less than new_member_window ago
    new_member_link_action: str = "strike"
    # how long after joining a member counts as new for new_member_link_action
    new_member_window: Duration = Duration(86400)
    # flag mainland mobile numbers, also spaced, ①③⑧-styled or with +86
    phones: bool = True
    # action for a phone number: allow, review, recall, warn, strike, mute or kick
    phone_action: str = "review"
    # flag WeChat / QQ ids after 微信/vx/加V/QQ…, and solicitations (加我, 私聊我)
    wechat: bool = True
    # action for a WeChat or QQ id: allow, review, recall, warn, strike, mute or kick
    wechat_action: str = "strike"
    # action for a solicitation such as 加我 / 私聊我 (needs wechat = true)
    solicit_action: str = "review"
    # action per share the adapter reports: qrcode, miniprogram, card, redpacket, image,
    # link; a kind not listed is not checked
    attachments: dict[str, str] = field(default_factory=lambda: {
        "qrcode": "review", "miniprogram": "review", "card": "review", "redpacket": "allow",
    })
    # flag the same text repeated in a group (by one member or by several) within flood_window
    flood: bool = True
    # the time span in which repeats of one text are counted
    flood_window: Duration = Duration(60)
    # one member sending the same text this many times is flooding; at least 2
    flood_repeats: int = 3
    # this many members sending the same text is flooding; at least 2
    flood_members: int = 4
    # texts shorter than this (in characters, after normalisation) never count as flooding
    flood_min_length: int = 6
    # action for flooding: allow, review, recall, warn, strike, mute or kick
    flood_action: str = "strike"
    # flag a member who sends more than rate_limit messages in a group within rate_window
    rate: bool = True
    # messages per member per group allowed within rate_window; the next one is a hit; at least 2
    rate_limit: int = 20
    # the time span rate_limit counts over
    rate_window: Duration = Duration(60)
    # action for a member over the rate: allow, review, recall, warn, strike, mute or kick
    rate_action: str = "mute"
    # score messages nothing else flagged with a logistic regression trained from labelled messages and
    # review decisions; no model ships: it does nothing until there are 20 spam and 20 ham samples
    spam_score: bool = True
    # spam probability (between 0 and 1, exclusive) from which a message is a hit; 0.9 keeps false
    # positives under 1 % on the held-out fifth of the shared tg-spam data (docs/moderation.md)
    spam_threshold: float = 0.9
    # action for a spam-score hit; anything stronger than review only applies once the
    # model's held-out false-positive rate is at most 1 %
    spam_action: str = "review"

    def validate(self) -> None:
        for key in ("link_action", "new_member_link_action", "phone_action", "wechat_action",
                    "solicit_action", "flood_action", "rate_action", "spam_action"):
            check_action(getattr(self, key), key)
        for kind, action in self.attachments.items():
            if kind not in ("qrcode", "miniprogram", "card", "redpacket", "image", "link"):
                raise ValueError(
                    f"attachments: 未知的附件类型 {kind!r}（可用：qrcode、miniprogram、card、redpacket、image、link）"
                )
            check_action(action, f"attachments.{kind}")
        if not 0 < self.spam_threshold < 1:
            raise ValueError("spam_threshold: 必须大于 0 且小于 1")
        if min(self.flood_repeats, self.flood_members, self.rate_limit) < 2:
            raise ValueError("flood_repeats、flood_members 和 rate_limit 都至少为 2")


@dataclass(frozen=True)
class ModerationSettings:
    """Checks group messages (words, links, contacts, flooding, spam) and acts on them (docs/moderation.md)."""

    # check group messages (private messages to the bot are never moderated)
    enabled: bool = True
    # moderators registered for a group are never moderated there
    exempt_moderators: bool = True
    # default action per lexicon category; a word's own action wins
    categories: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_ACTIONS))
    # what each strike does, first to last: "warn", "mute:<duration>" or "kick"; past
    # the end the last step repeats. Only unexpired strikes count
    ladder: list[str] = field(default_factory=lambda: ["warn", "mute:1d", "mute:7d", "mute:15d", "kick"])
    # a strike stops counting towards the ladder after this long
    strike_expiry: Duration = Duration(30 * 86400)
    # how long a "mute" action mutes (words/rules asking for mute; /mute without a time)
    mute_duration: Duration = Duration(86400)
    # warning posted in the group; may use {name} (the member), {reason} and {action}
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
