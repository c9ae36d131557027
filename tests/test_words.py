"""The one pluralisation rule and the one sentence rule every message uses."""

from __future__ import annotations

from reconciler.words import plural, sentence


def test_counts_agree_with_their_noun() -> None:
    assert plural(1, "upgrade") == "1 upgrade"
    assert plural(0, "upgrade") == "0 upgrades"
    assert plural(2, "managed upgrade") == "2 managed upgrades"
    assert plural(3, "entry", "entries") == "3 entries"
    assert plural(1, "entry", "entries") == "1 entry"


def test_a_fragment_becomes_one_sentence() -> None:
    assert sentence("run plan again") == "Run plan again."
    assert sentence("Run plan again.") == "Run plan again."
    assert sentence("is it? ") == "Is it?"
    assert sentence("see the log (MS-CorrelationId: x)") == "See the log (MS-CorrelationId: x)."
    assert sentence("") == ""
