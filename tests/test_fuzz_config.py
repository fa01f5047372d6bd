"""Fuzzing the config loader: any TOML-shaped input gives Settings or a ConfigError, nothing else."""

from __future__ import annotations

from datetime import date, time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import settings_from_dict
from bot.settings_loader import ConfigError

SECTIONS = ["bot", "console", "outbox", "logging", "adapters", "groups", "keywords", "welcome",
            "faq", "moderation", "schedule", "campaigns", "posts", "reports"]
KEYS = ["name", "timezone", "demo", "port", "host", "enabled", "id", "keyword", "match", "reply",
        "every", "window", "text", "level", "retry_base", "sim", "wecom", "tags", "groups", "at",
        "cron", "start", "end", "price", "threshold", "priority", "cooldown", "active", "bogus"]

scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["30m", "19:00-23:00", "Asia/Shanghai", "env:NOPE_X", "regex", "*/5 * * * *"]),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    st.times().map(lambda t: time(t.hour, t.minute)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=4)),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(SECTIONS), values, max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_config_loader_never_raises_anything_but_config_error(doc):
    try:
        settings_from_dict(doc, "fuzz.toml")
    except ConfigError as exc:
        assert exc.key is not None and exc.reason
        # every collected mistake is itself complete
        assert exc.errors and all(e.key is not None and e.reason for e in exc.errors)
