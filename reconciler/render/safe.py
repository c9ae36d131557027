"""Untrusted text made harmless for display: the one place that knows how.

Customer and company names, manifest names and Partner Center's reasons are free text that
reaches terminals, CI logs and pull-request comments. Shown as written, a name could drive the
terminal (an OSC or CSI sequence, even with colour off), forge a line, run a CI logging command
(GitHub's ``::`` at the start of a line, Azure's ``##vso[`` anywhere in one) or turn into a
link, image, mention or HTML in markdown. Every renderer passes such text through here.
"""

from __future__ import annotations

import re

#: What an error echoes of a value at most: enough to recognise it, never a whole file.
EXCERPT = 80

#: Azure Pipelines obeys ``##vso[`` (and ``##[`` formatting commands) anywhere in a line,
#: in any letter case.
_AZURE = re.compile(r"##(?=vso\[|\[)", re.IGNORECASE)
#: GitHub Actions obeys ``::command`` at the start of a line, after any indentation.
_GITHUB = re.compile(r"^(\s*):(?=:)")
#: Markdown punctuation that could start a link, image, emphasis, code span, HTML or entity,
#: or leave the table cell; each is backslash-escaped (CommonMark renders it literally). An
#: underscore inside a word (``unknown_upgrade``) never emphasises, so it is left alone.
_MARKDOWN = re.compile(r"([\\`*\[\]|~]|(?<![^\W_])_|_(?![^\W_]))")
#: ``&`` that would start a character reference (``&lt;``, ``&#64;``).
_ENTITY = re.compile(r"&(?=#?\w+;)")
#: A mention or an autolinked URL: GitHub links these in plain text, so a word joiner
#: (invisible) is put after ``@`` and inside ``://`` and ``www.``.
_LINKY = re.compile(r"(@|:(?=//)|(?<![\w.])www(?=\.))", re.IGNORECASE)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def visible(text: str | None) -> str:
    """``text`` on one line with every control or format character (C0, DEL, C1, line
    separators, bidirectional overrides) shown as an escape, not obeyed, and no CI logging
    command left in it. ESC and CSI are control characters, so no terminal sequence survives.
    """
    shown = "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text or "")
    shown = _AZURE.sub(r"\\x23#", shown)
    return _GITHUB.sub(r"\1\\x3a", shown)


def defuse_ci(text: str) -> str:
    """``text`` (any number of lines) with no CI logging command and no control character
    other than line breaks (escaped by the caller), for a logging command's message."""
    shown = "".join(ch if ch.isprintable() or ch in " \r\n" else _escape(ch) for ch in text)
    shown = _AZURE.sub(r"\\x23#", shown)
    return re.sub(r"^(\s*):(?=:)", r"\1\\x3a", shown, flags=re.MULTILINE)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of ``visible(text)``, cut with "…" (errors quote values
    this way: a 1,000,000-character value is not worth echoing whole)."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def markdown(text: str | None) -> str:
    """``text`` as inert markdown inside a table cell: one line, no link, image, mention, HTML,
    emphasis or code span, no ``|`` ending the cell, and no CI logging command."""
    shown = _MARKDOWN.sub(r"\\\1", visible(text))
    # ``&`` only where it would start an entity (``&amp;``): elsewhere it shows as written.
    shown = _ENTITY.sub("&amp;", shown).replace("<", "&lt;").replace(">", "&gt;")
    return _LINKY.sub("\\1\u2060", shown)
