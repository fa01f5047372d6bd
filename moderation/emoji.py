"""Emoji standing for a character (表情替字): 🐧 for 企鹅 (QQ), 🔫 for 枪, 💊 for 药, ❤ for 心 (信).

Names follow the Unicode CLDR Chinese annotations of each emoji, shortened to the character
spammers mean. An emoji counts only inside a word (the recomposed lexicon word must keep at
least one character the member typed) or as the name of a contact channel next to an id.
"""

from __future__ import annotations

TECHNIQUE = "表情替字"

EMOJI_CHARS = {
    "🐧": "企鹅", "🔫": "枪", "💊": "药", "❄": "冰", "💬": "聊", "🗨": "聊", "🐎": "马", "🐴": "马",
    "🌈": "彩", "🎲": "赌", "🎰": "赌", "🐷": "猪", "🐖": "猪", "💰": "钱", "💵": "钱", "💴": "钱",
    "🎵": "乐", "🎶": "乐", "❤": "心", "♥": "心", "💗": "心", "💓": "心", "💕": "心", "💖": "心",
    "🌸": "花", "🍑": "桃", "🐉": "龙", "🐲": "龙", "🐟": "鱼", "🐔": "鸡", "🐓": "鸡", "🐍": "蛇",
    "🦆": "鸭", "🐂": "牛", "🐮": "牛", "🐄": "牛", "🐶": "狗", "🐕": "狗", "🐱": "猫", "🐈": "猫",
    "🐭": "鼠", "🐯": "虎", "🐅": "虎", "🐰": "兔", "🐑": "羊", "🐒": "猴", "🔥": "火", "🌙": "月",
    "☀": "日", "⭐": "星", "🍬": "糖", "🚬": "烟", "🍺": "酒", "🍷": "酒", "📱": "机", "📞": "电话",
    "☎": "电话", "🏠": "家", "🚗": "车", "🌐": "网", "🕸": "网", "💣": "炸弹", "🔪": "刀", "🗡": "刀",
    "💉": "针", "🍃": "叶", "🍁": "叶", "🌿": "草", "🐝": "蜂", "👁": "眼", "✋": "手", "🎁": "礼",
    "🃏": "牌", "🀄": "中", "🍎": "苹果", "🍐": "梨", "🥚": "蛋", "🍚": "饭", "🍵": "茶", "🌹": "玫瑰",
    "🌲": "树", "🌳": "树", "💧": "水", "⚡": "电", "☁": "云", "🐳": "鲸", "🦀": "蟹", "🦐": "虾",
}
CHARS = frozenset(EMOJI_CHARS)


def view(original: str, compact_table: dict[int, str | None]) -> tuple[str, list[tuple[int, bool]]]:
    """The compact text with emoji replaced by their characters; per character its index in
    `original` and whether it came from an emoji."""
    chars: list[str] = []
    units: list[tuple[int, bool]] = []
    for i, ch in enumerate(original):
        rep = EMOJI_CHARS.get(ch)
        if rep is not None:
            for r in rep:
                chars.append(r)
                units.append((i, True))
            continue
        t = compact_table.get(ord(ch), ch)
        if t is None:
            continue
        for r in t:
            chars.append(r)
            units.append((i, False))
    return "".join(chars), units
