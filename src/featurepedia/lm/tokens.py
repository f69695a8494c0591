"""Readable display strings for tokens, including tokens that hold only part of a UTF-8 character.

Byte-level BPE (GPT-2, SmolLM2, Llama 3) spells every token as bytes; a token may hold only the first byte(s)
of a multi-byte character, e.g. "日" = E6 97 A5 split over several tokens. Decoding such a token alone gives
"�". Here each piece of a split character is shown as the whole character with a ``‹k/n›`` marker and a note
saying which bytes it holds; a piece whose character is cut off by the end of the text is shown as
``<0xE6>`` with a note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@dataclass(frozen=True)
class TokenText:
    """How to show one token.

    Attributes:
        text: the readable text (real spaces and newlines; the web layer makes them visible).
        note: a hover note for tokens that need one (partial characters, special tokens), else "".
        special: a special token of the tokenizer (e.g. the end-of-text token between documents), not text.
    """

    text: str
    note: str = ""
    special: bool = False

    @property
    def is_partial(self) -> bool:
        return bool(self.note) and not self.special


# How the hover note of a special token starts (pages tell special tokens by TokenText.special, stored as
# each example's special positions, never by this text).
SPECIAL_NOTE = "special token, not text"


def special_token_texts(tokenizer: Any) -> dict[int, TokenText]:
    """How to show each special token of a tokenizer (by id): its own text, with a note saying what it is."""
    eos = getattr(tokenizer, "eos_token_id", None)
    bos = getattr(tokenizer, "bos_token_id", None)
    out = {}
    for token, token_id in zip(getattr(tokenizer, "all_special_tokens", []),
                               getattr(tokenizer, "all_special_ids", []), strict=False):
        if token_id == eos:
            note = f"{SPECIAL_NOTE}: end of text (in corpus contexts: where one document ends and the next begins)"
        elif token_id == bos:
            note = f"{SPECIAL_NOTE}: beginning of text"
        else:
            note = SPECIAL_NOTE
        out[int(token_id)] = TokenText(str(token), note, special=True)
    return out


def mark_special(ids: Sequence[int], shown: list[TokenText], specials: dict[int, TokenText]) -> list[TokenText]:
    """``shown`` with the special tokens among ``ids`` replaced by their marked TokenText."""
    if specials.keys().isdisjoint(ids):  # ids must be ints: a torch scalar would not match its id
        return shown
    return [specials.get(int(i), t) for i, t in zip(ids, shown, strict=True)]


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's bytes_to_unicode table (printable stand-ins for all 256 bytes)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        return False
    decoder = backend.decoder
    return decoder is not None and "ByteLevel" in repr(decoder)


def token_bytes(tokenizer: Any, ids: Sequence[int]) -> list[bytes]:
    """The raw bytes each token stands for (special tokens: their text)."""
    pieces = tokenizer.convert_ids_to_tokens(list(ids))
    special = set(getattr(tokenizer, "all_special_tokens", []))
    byte_level = _is_byte_level(tokenizer)
    table = _byte_decoder()
    out: list[bytes] = []
    for piece in pieces:
        if piece is None:
            out.append(b"")
        elif piece in special:
            out.append(piece.encode("utf-8"))
        elif byte_level and all(ch in table for ch in piece):
            out.append(bytes(table[ch] for ch in piece))
        elif (match := _BYTE_TOKEN.match(piece)) is not None:  # SentencePiece byte fallback
            out.append(bytes([int(match.group(1), 16)]))
        else:
            out.append(piece.replace("\u2581", " ").encode("utf-8"))
    return out


def display_tokens(tokenizer: Any, ids: Sequence[int]) -> list[TokenText]:
    """Display strings for a token sequence; split characters are resolved using their neighbours, and
    special tokens are marked."""
    ids = [int(i) for i in ids]
    return mark_special(ids, display_from_bytes(token_bytes(tokenizer, ids)), special_token_texts(tokenizer))


# Control characters other than newline and tab are shown as their Unicode "control pictures" (␀, ␛, ...):
# invisible or terminal-breaking otherwise, and PostgreSQL's JSON type rejects NUL.
_CONTROLS = {c: 0x2400 + c for c in range(0x20) if chr(c) not in "\n\t"} | {0x7F: 0x2421}


def display_from_bytes(chunks: Sequence[bytes]) -> list[TokenText]:
    """Display strings for a sequence of byte strings (one per token)."""
    return [TokenText(t.text.translate(_CONTROLS), t.note) for t in _display(chunks)]


def _display(chunks: Sequence[bytes]) -> list[TokenText]:
    out: list[TokenText] = []
    i = 0
    while i < len(chunks):
        try:
            out.append(TokenText(chunks[i].decode("utf-8")))
            i += 1
            continue
        except UnicodeDecodeError:
            pass
        j = _complete_run(chunks, i)
        if j is None:
            out.append(_undecodable(chunks[i]))
            i += 1
            continue
        out.extend(_split_run(chunks[i : j + 1]))
        i = j + 1
    return out


def _complete_run(chunks: Sequence[bytes], start: int, max_tokens: int = 8) -> int | None:
    """Smallest j >= start such that chunks[start..j] joined decode as UTF-8, else None."""
    joined = b""
    for j in range(start, min(len(chunks), start + max_tokens)):
        joined += chunks[j]
        try:
            joined.decode("utf-8")
            return j if j > start else None
        except UnicodeDecodeError:
            continue
    return None


def _split_run(run: Sequence[bytes]) -> list[TokenText]:
    """TokenTexts for tokens that only decode together (e.g. b" \\xe6", b"\\x97", b"\\xa5" -> " 日").

    Each token shows the characters it holds whole, plus every character it holds only part of, marked
    ``‹k/n›`` (piece k of the n tokens that character is spread over).
    """
    bounds = []  # byte span [start, end) of each token within the joined bytes
    offset = 0
    for chunk in run:
        bounds.append((offset, offset + len(chunk)))
        offset += len(chunk)
    chars = []  # (char, byte start, byte end)
    offset = 0
    for ch in b"".join(run).decode("utf-8"):
        size = len(ch.encode("utf-8"))
        chars.append((ch, offset, offset + size))
        offset += size
    out = []
    joined = b"".join(run)
    for ti, (t_start, t_end) in enumerate(bounds):
        shown, notes = [], []
        for ch, c_start, c_end in chars:
            if c_end <= t_start or c_start >= t_end:
                continue
            if t_start <= c_start and c_end <= t_end:
                shown.append(ch)
                continue
            spanned = [i for i, (s, e) in enumerate(bounds) if s < c_end and e > c_start]
            k = spanned.index(ti) + 1
            held = joined[max(t_start, c_start) : min(t_end, c_end)]
            shown.append(f"{ch}\u2039{k}/{len(spanned)}\u203a")
            hexes = " ".join(f"{b:02X}" for b in held)
            notes.append(f"piece {k} of {len(spanned)} of '{ch}' (U+{ord(ch):04X}): this token holds byte(s) {hexes}")
        out.append(TokenText("".join(shown), "; ".join(notes)))
    return out


def _undecodable(chunk: bytes) -> TokenText:
    hexes = " ".join(f"{b:02X}" for b in chunk)
    shown = "".join(f"<0x{b:02X}>" for b in chunk)
    return TokenText(shown, f"an incomplete UTF-8 character (bytes {hexes}); the rest is outside this text")
