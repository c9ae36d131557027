"""Small rules of English that every message follows, kept in one place.

Counts agree with their noun ("1 upgrade", "2 upgrades"), and a fragment shown on its own line
(an error's hint) is a sentence: a capital letter first, a full stop last, never two.
"""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun`` in agreement: ``plural(1, "upgrade")`` is ``1 upgrade``.

    ``noun`` is the singular; the plural adds ``s`` unless ``plural_form`` is given
    (``plural(2, "entry", "entries")``). Only the last word is inflected, so a phrase such as
    ``"managed upgrade"`` works.
    """
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_form or noun + 's'}"


def sentence(text: str) -> str:
    """``text`` as a sentence: first letter upper-case, ending in exactly one full stop (or
    the ``?``/``!``/``)`` it already ends with after one)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ".)")) else text + "."

