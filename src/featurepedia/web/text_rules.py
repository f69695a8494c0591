"""What user-written text may contain, and how text from anywhere is shown so that it stays inert.

Two kinds of text reach the pages:

- **Written by a user** (explanations, report notes, display names, key names): refused with a message that
  names the character when it holds a NUL or another control character, or a direction override
  (U+202A–U+202E, U+2066–U+2069, which can make a name or an explanation read as something else). Names
  also refuse invisible characters (zero-width spaces and joiners, soft hyphens, the byte-order mark): two
  names that look the same must be the same.
- **From the corpus or typed to the model** (clue tokens, live test text): shown as it is, since what the
  model read is the point, but with every character a reader could not see written out (``⟨U+202E⟩``), so a
  token that is one invisible character is visible and an override cannot reorder the page around it.

HTML is never a concern here: every template and ``format_html`` call escapes it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from featurepedia.errors import FeaturepediaError

# C0 and C1 controls other than tab, newline and carriage return (which forms and text areas send).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Embeddings, overrides and isolates: they reorder the text after them.
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Characters a reader cannot see, refused in names and written out in shown tokens.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u2060-\u2064\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]")
_SHOWN_OUT = re.compile(f"{_CONTROL.pattern[:-1]}{_DIRECTION.pattern[1:-1]}{_INVISIBLE.pattern[1:-1]}]")


class TextError(FeaturepediaError, ValueError):
    """A user's text holds a character it may not: the message names it and where it is."""


def _name(char: str) -> str:
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    return f"{code} {name.lower()}" if name else code


def problem(text: str, *, name: bool = False) -> str | None:
    """Why ``text`` may not be stored (a sentence naming the first offending character), or None."""
    for pattern, kind in ((_CONTROL, "a control character"), (_DIRECTION, "a text-direction override"),
                          *(((_INVISIBLE, "an invisible character"),) if name else ())):
        found = pattern.search(text)
        if found:
            return (f"it contains {kind} ({_name(found.group())}) at position {found.start() + 1}; "
                    "remove it and type the text again")
    return None


def check(text: str, what: str, *, name: bool = False) -> str:
    """``text`` unchanged, or :class:`TextError` saying which character of ``what`` is refused."""
    reason = problem(text, name=name)
    if reason:
        raise TextError(f"{what[:1].upper()}{what[1:]} cannot be stored: {reason}.")
    return text


def django_validator(what: str, *, name: bool = False) -> Callable[[str], None]:
    """The same rule as a Django form/model field validator."""
    from django.core.exceptions import ValidationError

    def validate(value: str) -> None:
        reason = problem(value or "", name=name)
        if reason:
            raise ValidationError(f"{what[:1].upper()}{what[1:]} cannot be stored: {reason}.")
    return validate


def shown(text: str) -> str:
    """``text`` with each control, direction or invisible character written out as ``⟨U+XXXX⟩``."""
    return _SHOWN_OUT.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


def visible_token(text: str) -> str:
    """A token as the clues show it: whitespace a reader can see (newlines as ↵, tabs as →) and every
    control, direction or invisible character written out (see :func:`shown`)."""
    return shown(text).replace("\n", "↵").replace("\t", "→").replace("\r", "⏎")


NUL_STORED = "⟨U+0000⟩"


def storable(text: str) -> str:
    """Model or corpus text as a database stores it: PostgreSQL's text and jsonb cannot hold a NUL, so a
    NUL (a real byte token of byte-level vocabularies) is stored written out, as the pages show it."""
    return text.replace("\x00", NUL_STORED) if "\x00" in text else text
