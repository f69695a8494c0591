"""Token display strings: byte-level BPE pieces of one character are readable, never "�"."""

from __future__ import annotations

from featurepedia.lm.tokens import SPECIAL_NOTE, display_from_bytes, display_tokens


def test_whole_tokens_decode_as_themselves():
    shown = display_from_bytes([b"Hello", b" world", b"\n"])
    assert [t.text for t in shown] == ["Hello", " world", "\n"]
    assert not any(t.is_partial for t in shown)


def test_a_character_split_over_three_tokens():
    # "日" is E6 97 A5; the first token also carries a space.
    shown = display_from_bytes([b" \xe6", b"\x97", b"\xa5", b"!"])
    assert [t.text for t in shown] == [" 日‹1/3›", "日‹2/3›", "日‹3/3›", "!"]
    assert "U+65E5" in shown[0].note and "E6" in shown[0].note
    assert "97" in shown[1].note and shown[3].note == ""
    assert all("\ufffd" not in t.text for t in shown)


def test_two_split_characters_in_one_token():
    # "é" (C3 A9) then "ö" (C3 B6): the middle token holds A9 C3.
    shown = display_from_bytes([b"\xc3", b"\xa9\xc3", b"\xb6"])
    assert shown[0].text == "é‹1/2›"
    assert shown[1].text == "é‹2/2›ö‹1/2›"
    assert shown[2].text == "ö‹2/2›"


def test_a_character_cut_off_at_the_end_is_shown_as_bytes():
    shown = display_from_bytes([b"ok", b"\xe6\x97"])
    assert shown[1].text == "<0xE6><0x97>"
    assert "incomplete" in shown[1].note


def test_real_byte_level_tokenizer(tiny_llama):
    text = "naïve 日本語 café"
    ids = tiny_llama.to_tokens(text, prepend_bos=False)
    shown = display_tokens(tiny_llama.tokenizer, ids)
    assert len(shown) == len(ids)
    assert all("\ufffd" not in t.text for t in shown)
    # Removing the markers gives back the text, each split character once per piece.
    assert "".join(t.text for t in shown if not t.is_partial) != ""


def test_control_characters_are_shown_as_pictures():
    shown = display_from_bytes([b"a\x00", b"\x1b[0m", b"\r\n", b"\t", b"\x7f"])
    assert [t.text for t in shown] == ["a\u2400", "\u241b[0m", "\u240d\n", "\t", "\u2421"]


def test_model_display_equals_the_full_algorithm_with_its_caches_warm(tiny_llama):
    """LanguageModel.display caches whole tokens; contexts with split characters still take the full path."""
    texts = ["plain words only", "naïve 日本語 café", "東京 and words", "plain words only"]
    for text in texts * 2:  # the second round runs on warm caches
        ids = tiny_llama.to_tokens(text, prepend_bos=True)
        assert tiny_llama.display(ids) == display_tokens(tiny_llama.tokenizer, ids)


def test_special_tokens_are_marked_not_text(tiny_llama):
    eos = tiny_llama.tokenizer.eos_token_id
    ids = [*tiny_llama.to_tokens("one doc", prepend_bos=True), eos, *tiny_llama.to_tokens("next", prepend_bos=False)]
    for shown in (tiny_llama.display(ids), display_tokens(tiny_llama.tokenizer, ids)):
        specials = [t for t in shown if t.special]
        assert [t.text for t in specials] == [tiny_llama.tokenizer.bos_token, tiny_llama.tokenizer.eos_token]
        assert all(t.note.startswith(SPECIAL_NOTE) and not t.is_partial for t in specials)
        assert "end of text" in specials[1].note
        assert not any(t.note for t in shown if not t.special)
    # Whole-token cache and full path agree with special tokens in the context, split characters or not.
    for text in ["plain words", "naïve 日本語"]:
        ids = [*tiny_llama.to_tokens(text, prepend_bos=True), eos, *tiny_llama.to_tokens(text, prepend_bos=False)]
        assert tiny_llama.display(ids) == display_tokens(tiny_llama.tokenizer, ids)

