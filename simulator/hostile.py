"""Define custom fields whose names and values break naive SQL, JSON or logging code."""

from __future__ import annotations

import random
from typing import Any

LONG_VALUE_LENGTH = 10_000

# (name, fieldType) pairs; names differ only in case, exceed 64/128 chars, or carry SQL and unicode.
HOSTILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("first name", "text"),
    ('it\'s "quoted" `ticked`', "text"),
    ("a;b; DROP TABLE contacts;--", "textarea"),
    ("select", "text"),
    ("order", "number"),
    ("user", "text"),
    ("emoji_📞☎️", "text"),
    ("שם_לקוח", "text"),
    ("Status", "text"),
    ("status", "dropdown"),
    ("field_name_longer_than_sixty_four_characters_" + "x" * 25, "text"),
    ("field_name_longer_than_one_hundred_twenty_eight_characters_" + "y" * 75, "text"),
    ("long_value", "textarea"),
)

_NASTY_TEXTS: tuple[str, ...] = (
    'O\'Reilly "the" `boss`',
    "Robert'); DROP TABLE contacts;--",
    "select * from user order by 1",
    "smile 😀👍🏽 family 👨‍👩‍👧",
    "مرحبا بالعالم",
    "שלום עולם",
    "back\\slash\ttab\nnewline",
    "%s %d {0} ${x} $1",
    "\u202eright-to-left override",
)


def make_hostile_values(rng: random.Random, index: int) -> dict[str, Any]:
    """Return values for every hostile field of one contact; every fifth contact gets 10k chars."""
    values: dict[str, Any] = {}
    for name, field_type in HOSTILE_FIELDS:
        if field_type == "number":
            values[name] = rng.choice((-3.75, 0, 1e12, 42, 12.5))
        elif name == "long_value":
            if index % 5 == 0:
                values[name] = ("Ünïcødé ✓ " * (LONG_VALUE_LENGTH // 10 + 1))[:LONG_VALUE_LENGTH]
            else:
                values[name] = rng.choice(_NASTY_TEXTS)
        else:
            values[name] = rng.choice(_NASTY_TEXTS)
    return values
