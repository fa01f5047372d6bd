"""Rules beyond words: links, phone numbers, WeChat/QQ ids and 加我 solicitations, shares,
flooding and per-member message rate.

The text rules look at the normalised views of `normalize.Normalized`; the traffic rules keep
small in-memory windows keyed by chat and member (a restart forgets them, which is fine).
"""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass

from moderation.config import RuleSettings
from moderation.normalize import Normalized

_TLDS = (
    "com|cn|net|org|top|xyz|cc|vip|me|io|info|co|tk|shop|club|site|online|link|ly|gl|to|tv|ws|app|"
    "cloud|icu|fun|live|pro|biz|asia|hk|tw|us|uk|ru|ink|wang|work|ltd|store|tech|space|website|cn\\.com"
)
LINK_RE = re.compile(
    r"(?:https?://|www\.)[^\s，。、“”\"'<>]+"
    r"|(?<![a-z0-9@.-])(?:[a-z0-9](?:[a-z0-9-]{0,62})\.)+(?:" + _TLDS + r")(?![a-z0-9])(?:[/?#:][^\s，。]*)?"
)
# "abc點com" / "abc dot com" after noise removal and t2s: "abc点com", "abcdotcom". The name is
# tried only where a run of name characters starts: without the look-behind "aaaa…a点x" (4,000
# characters) retried from every position, 150 ms per message; with it the same matches in 0.1 ms
OBFUSCATED_LINK_RE = re.compile(r"(?<![a-z0-9-])([a-z0-9-]{2,})(?:点|dot|句号)(com|cn|net|top|xyz|cc|vip|org)")
PHONE_RE = re.compile(r"1[3-9]\d{9}")


def _sounds(*syllables: str) -> str:
    """A regex class of the common characters read as one of `syllables` (伟/威/薇… for wei)."""
    from bot.readings import all_readings
    from moderation.charfreq import FREQUENT_CHARS

    wanted = set(syllables)
    return "[" + "".join(ch for ch in FREQUENT_CHARS + "薇芯鑫歆昕炜玮巍蔻寇" if set(all_readings(ch)) & wanted) + "]"


# WeChat and QQ by name, by nickname and by sound (伟信, 卫芯, 扣扣, 企鹅 / 🐧 via moderation.emoji)
_WECHAT = (r"(?:微信号?|" + _sounds("wei") + _sounds("xin", "xing") + r"号?|v信|vx|wx|weixin|wechat|绿泡泡|"
           r"加v|加微|加vx|加wx|v号|vx号|薇)")
_QQ = r"(?:qq|" + _sounds("kou") + _sounds("kou") + r"|企鹅|球球|加q|加扣|q号)"
# 加我 alone is also how a group-buy sign-up orders (加我三斤); it needs a channel or an invitation
_SOLICIT = (
    r"加我(?=好友|v|微|q|扣|企鹅|私|联系|了解|咨询|领|带|进|拉|详|" + _sounds("wei") + r")"
    r"|(?:需要|有意|感兴趣|想要|想赚|想做|想学|想了解|要的|有需要)[^，。,.!！?？]{0,6}?加我"
    r"|私聊我|私我|私聊|加好友|加v|加微|加q|加扣|jiaweixin|jiawx|jiavx|jiaqq|siliao"
)
CONTACT_RE = re.compile(
    r"(?P<wechat>" + _WECHAT + r"(?:号|是|id)?(?P<wid>[a-z][a-z0-9_-]{5,19}|\d{6,11}))"
    r"|(?P<qq>" + _QQ + r"号?(?P<qid>\d{5,11}))"
    r"|(?P<solicit>" + _SOLICIT + ")"
)
# contact details sent in parts (号码头四位1391，剩下的是2046735 / v号分两段：mei 和 xiao8866)
_CHANNEL_RE = re.compile(
    r"(?P<wechat>微信|" + _sounds("wei") + _sounds("xin") + r"|v信|vx|wx|v号|加v|薇)"
    r"|(?P<qq>qq|扣扣|企鹅|q号|" + _sounds("kou") + _sounds("kou") + r")"
    r"|(?P<phone>手机|电话|号码|联系方式|手机号|tel)"
)
_PARTS_RE = re.compile(
    r"前\d*位|后\d*位|头\d*位|尾\d*位|中间|剩下|剩余|最后|后面|前面|前半|后半|上半|下半|分\d*段|分开|"
    r"第\d段|接着|再接|末尾|开头|第\d部分"
)
_PHONE_WORDS = ("号", "电话", "手机", "联系")
# cheap gate before looking for announced parts: three digits or letters in a row somewhere
_DIGITS_OR_ID = re.compile(r"[0-9a-z]{3}")
_FRAGMENT_RE = re.compile(r"[a-z0-9]+")
_COUNT_RE = re.compile(r"\d+(?=位|段|个|部分)|第\d+|分\d+")
_RADIO_DIGITS = str.maketrans({"拐": "7", "洞": "0", "勾": "9"})
_RADIO_RE = re.compile(r"(?<=\d)[拐洞勾]+|[拐洞勾]+(?=\d)")
_CHANNEL_WORDS = frozenset({"qq", "v", "vx", "wx", "q", "tel", "weixin", "wechat"})
WECHAT_ID_RE = re.compile(r"[a-z][a-z0-9_-]{5,19}")


def spread_contact(compact: str) -> tuple[str, int, int, str] | None:
    """A phone number, WeChat id or QQ number sent in announced parts: (rule, start, end, joined)
    with the span in `compact`, or None."""
    channel = _CHANNEL_RE.search(compact)
    if channel is None or _PARTS_RE.search(compact, channel.start()) is None:
        return None
    tail = compact[channel.end():]
    if "拐" in tail or "洞" in tail or "勾" in tail:
        tail = _RADIO_RE.sub(lambda m: m.group().translate(_RADIO_DIGITS), tail)
    tail = _COUNT_RE.sub(lambda m: "_" * len(m.group()), tail)
    frags = [m for m in _FRAGMENT_RE.finditer(tail) if m.group() not in _CHANNEL_WORDS]
    if len(frags) < 2:
        return None
    joined = "".join(m.group() for m in frags)
    a, b = channel.end() + frags[0].start(), channel.end() + frags[-1].end()
    kind = channel.lastgroup
    if kind == "wechat" and WECHAT_ID_RE.fullmatch(joined):
        return "wechat", a, b, joined
    if kind == "qq" and joined.isdigit() and 5 <= len(joined) <= 11:
        return "qq", a, b, joined
    if joined.isdigit() and PHONE_RE.fullmatch(joined):
        return "phone", a, b, joined
    return None


@dataclass(slots=True)
class RuleHit:
    rule: str
    label: str  # zh-CN name shown to moderators
    action: str
    start: int = 0  # span in the original text (0, 0 = the whole message / no text)
    end: int = 0
    detail: str = ""
    technique: str = ""  # zh-CN name of the evasion it saw through (拆分联系方式 …), if any


SPREAD = "拆分联系方式"
RULE_LABELS = {
    "link": "链接", "new_member_link": "新成员发链接", "phone": "手机号", "wechat": "微信号",
    "qq": "QQ号", "solicit": "加好友引流", "qrcode": "二维码", "miniprogram": "小程序",
    "card": "名片", "redpacket": "红包", "image": "图片", "flood": "刷屏", "rate": "发言过快",
    "spam_score": "疑似垃圾消息",
}


def domain_allowed(domain: str, allowed: frozenset[str]) -> bool:
    domain = domain.lower().rstrip(".")
    while domain:
        if domain in allowed:
            return True
        _, dot, domain = domain.partition(".")
        if not dot:
            return False
    return False


def _domain(url: str) -> str:
    host = re.sub(r"^https?://", "", url)
    return re.split(r"[/?#:]", host, maxsplit=1)[0]


class TextRules:
    """Links and contacts found in one message's normalised text."""

    def __init__(self, settings: RuleSettings, allowed_domains: list[str]) -> None:
        self.settings = settings
        self.allowed = frozenset(d.lower().strip().lstrip("*.") for d in allowed_domains if d.strip())

    def check(self, norm: Normalized, contact_triggered: bool) -> list[RuleHit]:
        s = self.settings
        hits: list[RuleHit] = []
        text, compact = norm.original, norm.compact
        if s.links:
            if "." in text or "．" in text:
                for m in LINK_RE.finditer(norm.mapped):
                    domain = _domain(m.group())
                    if not domain_allowed(domain, self.allowed):
                        hits.append(RuleHit("link", RULE_LABELS["link"], s.link_action, m.start(), m.end(), domain))
            if "点" in compact or "dot" in compact:
                for m in OBFUSCATED_LINK_RE.finditer(compact):
                    domain = f"{m.group(1)}.{m.group(2)}"
                    if not domain_allowed(domain, self.allowed):
                        a, b = norm.span_from_compact(m.start(), m.end())
                        hits.append(RuleHit("link", RULE_LABELS["link"], s.link_action, a, b, domain))
        if s.phones and PHONE_RE.search(compact) is not None:
            for m in PHONE_RE.finditer(compact):
                a, b = m.span()
                if b < len(compact) and compact[b].isdigit():
                    continue
                if a and compact[a - 1].isdigit():
                    # +86 / 86 country code in front
                    if compact[a - 2 : a] == "86" and (a == 2 or not compact[a - 3].isdigit()):
                        a -= 2
                    else:
                        continue
                oa, ob = norm.span_from_compact(a, b)
                hits.append(RuleHit("phone", RULE_LABELS["phone"], s.phone_action, oa, ob, m.group()))
        if s.wechat and contact_triggered:
            for m in CONTACT_RE.finditer(compact):
                rule = m.lastgroup if m.lastgroup in ("solicit",) else ("wechat" if m.group("wechat") else "qq")
                action = s.solicit_action if rule == "solicit" else s.wechat_action
                oa, ob = norm.span_from_compact(*m.span())
                hits.append(RuleHit(rule, RULE_LABELS[rule], action, oa, ob, m.group()))
        if (s.spread_contacts and not hits and (s.phones or s.wechat)
                and _DIGITS_OR_ID.search(compact) is not None
                and (contact_triggered or any(w in compact for w in _PHONE_WORDS))
                and _PARTS_RE.search(compact) is not None):
            found = spread_contact(compact)
            if found is not None:
                rule, a, b, joined = found
                action = s.phone_action if rule == "phone" else s.wechat_action
                oa, ob = norm.span_from_compact(a, b)
                hits.append(RuleHit(rule, RULE_LABELS[rule], action, oa, ob, joined, SPREAD))
        return hits

    def attachments(self, kinds: list[str]) -> list[RuleHit]:
        found = []
        for kind in kinds:
            action = self.settings.attachments.get(kind)
            if action is not None:
                found.append(RuleHit(kind, RULE_LABELS.get(kind, kind), action, detail=kind))
        return found


class Traffic:
    """Flooding (same text by one member or many) and message rate per member, in memory."""

    def __init__(self, settings: RuleSettings) -> None:
        self.settings = s = settings
        self.rate_on, self.rate_limit, self.rate_window = s.rate, s.rate_limit, float(s.rate_window)
        self.flood_on, self.flood_min = s.flood, s.flood_min_length
        self.flood_window = float(s.flood_window)
        # Values are kept out of the cyclic garbage collector's way (arrays, atomic tuples): tens of
        # thousands of tracked lists made every full collection slow the hot path down.
        self._texts: dict[tuple[str, str], tuple[float, str] | list[tuple[float, str]]] = {}
        self._rates: dict[tuple[str, str], array[float]] = {}
        self._seen = 0

    def check(self, session: str, member: str, folded: str, now: float, record: bool) -> list[RuleHit]:
        hits: list[RuleHit] = []
        if self.rate_on:
            key = (session, member)
            times = self._rates.get(key)
            if times is not None:
                horizon = now - self.rate_window
                if times[0] <= horizon:
                    del times[: bisect.bisect_right(times, horizon)]
                if len(times) >= self.rate_limit:
                    s = self.settings
                    hits.append(RuleHit("rate", RULE_LABELS["rate"], s.rate_action,
                                        detail=f"{len(times) + 1} 条 / {int(s.rate_window)} 秒"))
                if record:
                    times.append(now)
            elif record:
                self._rates[key] = array("d", (now,))
        if self.flood_on and len(folded) >= self.flood_min:
            key = (session, folded)
            seen = self._texts.get(key)
            if seen is not None:
                if isinstance(seen, tuple):  # second time this text is seen: keep a list from now on
                    seen = self._texts[key] = [seen]
                hit = self._flood(seen, member, now)
                if hit is not None:
                    hits.append(hit)
                if record:
                    seen.append((now, member))
            elif record:
                self._texts[key] = (now, member)
        if record:
            self._seen += 1
            if self._seen % 50_000 == 0:
                self.prune(now)
        return hits

    def _flood(self, seen: list[tuple[float, str]], member: str, now: float) -> RuleHit | None:
        s = self.settings
        horizon = now - self.flood_window
        if seen and seen[0][0] <= horizon:
            seen[:] = [x for x in seen if x[0] > horizon]
        if not seen:
            return None
        same = 1 + sum(1 for _, m in seen if m == member)
        members = len({m for _, m in seen} | {member})
        if same >= s.flood_repeats or members >= s.flood_members:
            what = f"同一内容 {same} 次" if same >= s.flood_repeats else f"{members} 人发送相同内容"
            return RuleHit("flood", RULE_LABELS["flood"], s.flood_action, detail=what)
        return None

    def prune(self, now: float) -> None:
        """Forget windows nobody has written to recently (bounded memory)."""
        self._rates = {k: v for k, v in self._rates.items() if v and v[-1] > now - self.rate_window}
        horizon = now - self.flood_window
        self._texts = {k: v for k, v in self._texts.items()
                       if (v[0] if isinstance(v, tuple) else v[-1][0] if v else 0) > horizon}
