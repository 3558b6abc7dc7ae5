"""Untrusted text stays data wherever people read it.

Model output, table values (model and feature names, pipeline notes, deployment
descriptions), runbook passages and people's comments reach Slack, GitHub and email. Each
reader has its own control syntax; these functions neutralise it so the text shows as typed
and never acts:

- Slack: `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<#C…>` and `<url|label>` are
  Slack's markup; escaping `&`, `<` and `>` (the three characters Slack's docs say to escape)
  turns them into plain text. Bare `@channel`, `@here` and `@everyone` get a word joiner after
  the `@`, in case a client links names.
- GitHub: `@user` and `@org/team` mentions notify people, and `fixes #12` in a body can close
  or cross-reference an issue; a word joiner after the `@` and the `#` keeps the words but
  breaks the link. `<` is escaped so no HTML (images, links) renders.
- Email headers: CR and LF would start a new header (`Bcc:`); they become spaces.

A word joiner (U+2060) is invisible, so a reader sees the original text.
"""

from __future__ import annotations

import re

JOINER = "\u2060"
QUOTE_LIMIT = 300
HEADER_LIMIT = 200

_SLACK_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
# a mention: @ not preceded by a word character (an email address is not a mention)
_GITHUB_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
# an issue reference (`#12`, `owner/repo#12`, `GH-12`): with a closing keyword before it
# (`fixes #12`) it closes the issue, without one it cross-links it
_GITHUB_REFERENCE = re.compile(r"(?<![\w&])((?:[\w.-]+/[\w.-]+)?#|GH-)(?=\d)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029]+")


def slack_text(text: str) -> str:
    """`text` as Slack shows it literally: no mention, broadcast, channel link or link."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_BROADCAST.sub("@" + JOINER, _CONTROL.sub(" ", escaped))


def github_text(text: str) -> str:
    """`text` for a GitHub issue body or title: no mention, no closing keyword, no
    cross-reference, no HTML."""
    text = _CONTROL.sub(" ", text).replace("<", "&lt;")
    text = _GITHUB_MENTION.sub("@" + JOINER, text)
    return _GITHUB_REFERENCE.sub(lambda m: m.group(1) + JOINER, text)


def github_code(text: str) -> str:
    """`text` inside an inline code span: a backtick would end the span, a newline the line."""
    return _LINE_BREAKS.sub(" ", _CONTROL.sub(" ", text)).replace("`", "'")


def header_text(text: str, limit: int = HEADER_LIMIT) -> str:
    """`text` as one email header value: line breaks and control characters become spaces
    (a CR/LF would start a new header such as `Bcc:`), runs of spaces collapse, capped."""
    flat = " ".join(_CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text)).split())
    return clip(flat, limit)


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Model-written text as a one-line quotation: whitespace collapsed, capped."""
    return clip(" ".join(_CONTROL.sub(" ", text).split()), limit)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def has_live_slack_markup(text: str) -> bool:
    """Whether Slack would act on `text`: a `<…>` control sequence (mention, broadcast,
    channel, link) or a bare broadcast word. For checks over an outbox."""
    if re.search(r"<[!@#]|<(https?|mailto):", text, re.IGNORECASE):
        return True
    return bool(re.search(r"(?<!\w)@(channel|here|everyone)\b", text, re.IGNORECASE))


_FENCED = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def has_live_github_markup(text: str) -> bool:
    """Whether GitHub would notify or link from `text`: an @mention, a closing keyword
    with an issue reference, or an HTML tag, outside code (GitHub renders fenced blocks and
    code spans literally)."""
    text = _CODE_SPAN.sub("", _FENCED.sub("", text))
    if re.search(r"<[A-Za-z!/]", text):
        return True
    if re.search(r"(?<![\w`])@[A-Za-z0-9]", text):
        return True
    return bool(_GITHUB_REFERENCE.search(text))
