"""[moderation] config: mistakes are named precisely at start-up."""

from __future__ import annotations

import pytest

from bot.config import settings_from_dict
from bot.settings_loader import ConfigError


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"ladder": ["warn", "mute"]}, "needs a duration"),
        ({"ladder": ["warn", "ban:1d"]}, "unknown ladder step"),
        ({"categories": {"广告": "explode"}}, "unknown action"),
        ({"rules": {"link_action": "nuke"}}, "moderation.rules.link_action"),
        ({"rules": {"attachments": {"video": "review"}}}, "unknown attachment kind"),
        ({"rules": {"spam_threshold": 1.5}}, "moderation.rules.spam_threshold"),
        ({"normalize": {"confusables": {"oo": "0"}}}, "one character"),
        ({"normalize": {"typo": True}}, "unknown key"),
        ({"strike_expiry": "forever"}, "invalid duration"),
        ({"warn_text": "{nickname} 请注意"}, "moderation.warn_text"),
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
