"""Second signals: what makes a weak match (a homophone that is an everyday word, pinyin initials)
worth acting on.

菠菜 alone is a vegetable; 菠菜 next to 充值送100, a contact id, 私聊 or a second listed word is the
gambling slang for 博彩. The signals are cheap regex probes over the compact text, plus the other
hits of the same message and the learned spam score.
"""

from __future__ import annotations

import re

# invitation verbs (私聊, 加我, 详聊 …); an app's bare name (QQ, 微信) is everyday talk, and a real
# contact (a phone number, a WeChat or QQ id) is a hit of its own, so it counts as another hit
INVITE_RE = re.compile(
    r"私聊|私信|私我|加我|联系我|详聊|咨询|找我|进群|入群|扫码|上车|带你|加v|加微|加q|加扣|戳我|滴滴我|来玩|注册送"
)
# money and selling patterns (not everyday prices such as 三块钱一斤)
MONEY_RE = re.compile(
    r"充值|返利|返水|返现|提现|日赚|日入|日结|稳赚|稳赢|下注|投注|赔率|佣金|出货|有货|出售|批发|包邮|收益|"
    r"送\d+|\d+元|[¥￥$]\d|\d+(?:rmb|w|k)(?![a-z])|首充|彩金|代理"
)


def has_signal(compact: str, other_hits: int, spam: float | None = None) -> bool:
    """Whether the message carries a second signal besides the weak match itself."""
    if other_hits:
        return True
    if INVITE_RE.search(compact) is not None or MONEY_RE.search(compact) is not None:
        return True
    return spam is not None and spam >= 0.9
