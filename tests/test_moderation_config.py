"""[moderation] config: mistakes are named precisely at start-up."""

from __future__ import annotations

import pytest

from bot.config import settings_from_dict
from bot.settings_loader import ConfigError


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"ladder": ["warn", "mute"]}, "需要写时长"),
        ({"ladder": ["warn", "ban:1d"]}, "未知的处罚步骤"),
        ({"categories": {"广告": "explode"}}, "未知的处理方式"),
        ({"rules": {"link_action": "nuke"}}, "moderation.rules.link_action"),
        ({"rules": {"attachments": {"video": "review"}}}, "未知的附件类型"),
        ({"rules": {"spam_threshold": 1.5}}, "moderation.rules.spam_threshold"),
        ({"normalize": {"confusables": {"oo": "0"}}}, "一个字符对应一个字符"),
        ({"normalize": {"typo": True}}, "未知的配置项"),
        ({"strike_expiry": "forever"}, "时长格式不对"),
        ({"warn_text": "{nickname} 请注意"}, "moderation.warn_text"),
        ({"notices": {"广告": "@{nick} 别发广告"}}, "notices.广告"),
    ],
)
def test_bad_moderation_settings_are_rejected_with_key_and_reason(section, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"moderation": section})


def test_valid_settings_load():
    s = settings_from_dict({"moderation": {
        "ladder": ["warn", "mute:2h", "kick"], "strike_expiry": "7d",
        "normalize": {"pinyin": True, "confusables": {"o": "0"}},
        "rules": {"allowed_domains": ["example.com"], "flood_window": "2m"},
    }})
    assert s.moderation.ladder == ["warn", "mute:2h", "kick"]
    assert float(s.moderation.strike_expiry) == 7 * 86400
    assert s.moderation.rules.flood_window == 120
