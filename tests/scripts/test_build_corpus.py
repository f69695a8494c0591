"""The corpus build script's pure helpers: cleaning, splitting, packing, wiki markup, output (no downloads)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_corpus.py"


def _load_script() -> ModuleType:
    # scripts/ is not a package: load the file under its own name.
    spec = importlib.util.spec_from_file_location("build_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their class's module up while it is created
    spec.loader.exec_module(module)
    return module


bc = _load_script()

needs_mwparser = pytest.mark.skipif(
    importlib.util.find_spec("mwparserfromhell") is None,
    reason="mwparserfromhell, a build-only tool of the corpus script, is not installed "
    "(pip install mwparserfromhell==0.7.2)",
)

# ---------------------------------------------------------------- generic text helpers


def test_normalise_composes_accents_and_keeps_non_ascii():
    assert bc.normalise("cafe\u0301 東京") == "caf\u00e9 東京"


def test_collapse_spaces_unwraps_but_keeps_no_break_spaces():
    assert bc.collapse_spaces("  A wrapped\n\tparagraph\r\n of  text \n") == "A wrapped paragraph of text"
    assert bc.collapse_spaces("100\u00a0km") == "100\u00a0km"


def test_tidy_block_keeps_lines_and_drops_layout_noise():
    lines = ["", "    def f():", "\treturn 1   ", "", "", "", "    x = f()", ""]
    assert bc.tidy_block(lines) == "def f():\n    return 1\n\nx = f()"


def test_split_long_paragraph_cuts_prose_at_sentence_ends():
    text = 'The cat sat. The dog ran! Did it? "Yes." Then 3 birds flew.'
    assert bc.split_long_paragraph(text, 30) == ["The cat sat. The dog ran!", 'Did it? "Yes."', "Then 3 birds flew."]


def test_split_long_paragraph_does_not_cut_before_a_lower_case_word():
    # "kg. and" is no sentence end, so the first sentence is too long and is cut at a space instead.
    assert bc.split_long_paragraph("It weighs 5 kg. and more than that in water. It sinks.", 30) == [
        "It weighs 5 kg. and more than",
        "that in water. It sinks.",
    ]


def test_split_long_paragraph_keeps_lines_of_a_preformatted_block():
    assert bc.split_long_paragraph("line one\nline two\nline three", 17) == ["line one\nline two", "line three"]


def test_split_long_paragraph_cuts_a_run_on_unit_at_spaces_or_hard():
    assert bc.split_long_paragraph("aaaa bbbb cccc dddd", 10) == ["aaaa bbbb", "cccc dddd"]
    assert bc.split_long_paragraph("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_pack_paragraphs_groups_to_the_target_and_never_exceeds_the_max():
    paragraphs = ["a" * 5, "b" * 5, "c" * 5, "d" * 20]
    docs = list(bc.pack_paragraphs(paragraphs, target_chars=12, max_chars=20))
    assert docs == ["aaaaa\n\nbbbbb", "ccccc", "d" * 20]


def test_pack_paragraphs_splits_an_over_long_paragraph():
    long = "One sentence here. " * 10  # 190 characters
    docs = list(bc.pack_paragraphs([long.strip()], target_chars=40, max_chars=60))
    assert docs == ["One sentence here. One sentence here. One sentence here."] * 3 + ["One sentence here."]
    assert all(len(d) <= 60 for d in docs)


def test_stable_key_separates_its_parts():
    assert bc.stable_key("a", "b") == bc.stable_key("a", "b")
    assert bc.stable_key("a", "b") != bc.stable_key("ab")
    assert len(bc.stable_key("x")) == 64


def test_dedupe_keeps_the_first_of_equal_texts_in_order():
    docs = [bc.Doc("one", "linux"), bc.Doc("two", "linux"), bc.Doc("one", "linuxcookie"), bc.Doc("three")]
    assert bc.dedupe(docs) == [bc.Doc("one", "linux"), bc.Doc("two", "linux"), bc.Doc("three")]


def test_cap_docs_returns_everything_under_the_budget():
    docs = [bc.Doc("abc"), bc.Doc("defg")]
    assert bc.cap_docs("src", docs, 7) is docs


def test_cap_docs_keeps_a_deterministic_subset_in_original_order():
    docs = [bc.Doc(f"document number {i} " + "x" * (i % 7)) for i in range(40)]
    kept = bc.cap_docs("fortunes", docs, 300)
    total = sum(len(d.text) for d in kept)
    assert total <= 300
    assert kept == [d for d in docs if d in kept]  # original order
    # Greedy in hash order: every dropped document would have overflowed the budget.
    assert all(total + len(d.text) > 300 for d in docs if d not in kept)
    assert kept == bc.cap_docs("fortunes", list(docs), 300)
    # The choice depends on the source name too, so parts do not all keep the same positions.
    assert kept != bc.cap_docs("jargon", docs, 300)


# ---------------------------------------------------------------- Wikipedia

EXPORT = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page><title>Andorra</title><ns>0</ns><id>600</id>
    <revision><id>7151</id><text xml:space="preserve">'''Andorra''' is a microstate.</text></revision></page>
  <page><title>AccessibleComputing</title><ns>0</ns><id>10</id><redirect title="Computer accessibility" />
    <revision><id>11</id><text xml:space="preserve">#REDIRECT [[Computer accessibility]]</text></revision></page>
  <page><title>Anarchy</title><ns>0</ns><id>12</id>
    <revision><id>13</id><text xml:space="preserve">  #redirect [[Anarchism]]</text></revision></page>
  <page><title>Talk:Andorra</title><ns>1</ns><id>14</id>
    <revision><id>15</id><text xml:space="preserve">A talk page.</text></revision></page>
</mediawiki>
"""


def test_wiki_pages_yields_main_namespace_articles_only():
    pages = list(bc.wiki_pages(EXPORT.encode("utf-8")))
    assert pages == [("Andorra", 7151, "'''Andorra''' is a microstate.")]


def test_tidy_wiki_punctuation_repairs_template_debris():
    assert bc.tidy_wiki_punctuation("The angle ( ; , ) is , , and so on .") == "The angle is, and so on."
    text = "Smith (; born 1950 ;) was ''an'' author<ref name=\"a\"/> and critic<ref>Ibid.</ref>."
    assert bc.tidy_wiki_punctuation(text) == "Smith (born 1950) was an author and critic."
    assert bc.tidy_wiki_punctuation("\x00 An item") == "An item"


def test_wiki_paragraphs_keeps_prose_and_drops_lists_tables_and_fragments():
    rendered = (
        "First line of a paragraph\nthat wraps onto a second line and ends here with a full stop.\n\n"
        "\x00 A list item that is long enough to count as prose if it were not a list item.\n\n"
        "Too short to be prose.\n\n"
        "{| class=wikitable\n| cell\n"
        "This line has well over twelve words but it does not end in any punctuation at all\n\n"
        "He said that it was the best of times and the worst of times, “and so it went.”"
    )
    assert list(bc.wiki_paragraphs(rendered)) == [
        "First line of a paragraph that wraps onto a second line and ends here with a full stop.",
        "He said that it was the best of times and the worst of times, “and so it went.”",
    ]


ARTICLE = """'''Andorra''' ({{IPA-ca|ənˈdorə}}), officially the '''Principality of Andorra''', is a \
sovereign [[landlocked country|landlocked]] microstate in [[Southwestern Europe]], located in the eastern \
[[Pyrenees]] mountains.<ref>{{cite web|url=http://example.org|title=Andorra}}</ref> It has an area of \
{{convert|468|km2}} and a population of about {{formatnum:77281}} people.[[File:Andorra.jpg|thumb|A valley]]

== History ==
The [[Carolingian Empire]] created the country as a buffer state against the [[Moors]] in the early \
ninth century, according to the {{lang|ca|Carta de fundació d'Andorra}} tradition.

* A list item that should be dropped because it is a list item and not running prose at all.

== See also ==
This sentence sits in a skipped section and has more than twelve words in it, so only the section drops it.

=== Subsection of see also ===
A subsection of a skipped section is skipped as well, even though it is long enough to be prose here.

== Geography ==
Short one.
{| class="wikitable"
| A table cell with plenty of words in it that would otherwise count as a paragraph.
|}
The country is {{nowrap|sub-divided}} into seven parishes &ndash; a [[:Category:Parishes|few]] of them \
very old &mdash; as the census{{mdash}}of 2020[[de:Andorra]] shows.[[Category:Andorra]]
"""


@needs_mwparser
def test_wiki_sections_render_an_article_to_prose_paragraphs():
    paragraphs = [p for section in bc.wiki_sections(ARTICLE) for p in bc.wiki_paragraphs(section)]
    assert paragraphs == [
        "Andorra ([ənˈdorə]), officially the Principality of Andorra, is a sovereign landlocked microstate "
        "in Southwestern Europe, located in the eastern Pyrenees mountains. It has an area of 468 km2 and a "
        "population of about 77281 people.",
        "The Carolingian Empire created the country as a buffer state against the Moors in the early ninth "
        "century, according to the Carta de fundació d'Andorra tradition.",
        "The country is sub-divided into seven parishes – a few of them very old — as the census—of 2020 shows.",
    ]


@needs_mwparser
@pytest.mark.parametrize(
    ("wikitext", "shown"),
    [
        ("[[Paris]]", "Paris"),
        ("[[Paris|the capital]]", "the capital"),
        ("[[:Category:Cities]]", "Category:Cities"),
        ("[[Category:Cities]]", ""),
        ("[[Image:Eiffel.jpg|thumb|The tower]]", ""),
        ("[[fr:Paris]]", ""),
        ("[http://example.org the site]", "the site"),
        ("http://example.org", ""),
        ("[http://example.org]", ""),
        ("x<sup>2</sup>", "x2"),
        ("E = mc<math>^2</math>", "E = mc"),
        ("a<br/>b", "a b"),
        ("<!-- hidden -->seen", "seen"),
        ("{{angbr|a}}", "⟨a⟩"),
        ("{{IPA|/pəˈriː/}}", "/pəˈriː/"),
        ("{{IPA-fr|}}", ""),
        ("{{lang-fr|Paris}}", "Paris"),
        ("{{transl|ar|DIN|al-Qāhira}}", "al-Qāhira"),
        ("{{cvt|5|mi}}", "5 mi"),
        ("{{quote|text=To be.}}", "\n\nTo be.\n\n"),
        ("{{snd}}", " – "),
        ("{{Infobox country|name=Andorra}}", ""),
        ("&eacute;t&eacute;", "été"),
    ],
)
def test_render_wikicode_shows_what_a_reader_sees(wikitext, shown):
    import mwparserfromhell

    assert bc.render_wikicode(mwparserfromhell.parse(wikitext)) == shown


# ---------------------------------------------------------------- fortunes


def test_read_fortunes_splits_records_and_keeps_poem_lines(tmp_path):
    cookie = tmp_path / "humorix"
    cookie.write_text("Q: Why?\nA: Because.\n%\n\tRoses are red,\n\t  violets are blue.\n%\n%\n", "utf-8")
    assert list(bc.read_fortunes(cookie)) == ["Q: Why?\nA: Because.", "Roses are red,\n  violets are blue."]


def test_read_fortunes_falls_back_to_latin1(tmp_path):
    cookie = tmp_path / "old"
    cookie.write_bytes(b"Caf\xe9 au lait.\n%\nPress <CONTROL-G>\x07 now.\n")
    assert list(bc.read_fortunes(cookie)) == ["Café au lait.", "Press <CONTROL-G> now."]


@pytest.mark.parametrize(
    ("line", "plain"),
    [("_\bx_\by", "xy"), ("___\b\b\bnot", "not"), ("x\b_", "x"), ("a\bb", "b"), ("\bok", "ok")],
)
def test_resolve_overstrike_replays_backspaces(line, plain):
    assert bc.resolve_overstrike(line) == plain


def test_repair_mojibake_undoes_repeated_latin1_decoding_only():
    once = "’".encode().decode("latin-1")
    twice = once.encode().decode("latin-1")
    assert bc.repair_mojibake(f"don{once}t") == "don’t"
    assert bc.repair_mojibake(f"don{twice}t") == "don’t"
    assert bc.repair_mojibake("naïve Straße, ßü") == "naïve Straße, ßü"


def test_fortune_files_skips_indexes_links_and_ascii_art(tmp_path):
    directory = tmp_path / bc.FORTUNE_DIR
    directory.mkdir(parents=True)
    for name in ("zippy", "art", "art.dat", "ascii-art"):
        (directory / name).write_text("x\n%\n")
    (directory / "art.u8").symlink_to(directory / "art")
    (directory / "alias").symlink_to(directory / "zippy")
    assert [p.name for p in bc.fortune_files(tmp_path)] == ["art", "zippy"]


# ---------------------------------------------------------------- Jargon File


@pytest.mark.parametrize(("code", "value"), [("A", 0), ("B", 1), ("/", 63), ("BA", 64), ("CAB", 2 * 64 * 64 + 1)])
def test_dictd_number(code, value):
    assert bc.dictd_number(code) == value


def _dictd_code(value: int) -> str:
    digits = ""
    while True:
        value, digit = divmod(value, 64)
        digits = bc._DICTD_B64[digit] + digits
        if not value:
            return digits


def test_jargon_entries_reads_each_entry_once_in_dictionary_order():
    header, first, second = b"00-database-info\nabout\n", b"hacker\n n.\n", "Ýmir\n n.\n".encode()
    blob = header + first + second
    spans = {"info": (0, len(header)), "hacker": (len(header), len(first)),
             "ymir": (len(header) + len(first), len(second))}
    index = "\n".join(
        f"{word}\t{_dictd_code(start)}\t{_dictd_code(length)}"
        for word, (start, length) in [("00-database-info", spans["info"]), ("Ýmir", spans["ymir"]),
                                      ("hacker", spans["hacker"]), ("hackers", spans["hacker"])]
    )
    assert list(bc.jargon_entries(blob, index)) == ["hacker\n n.\n", "Ýmir\n n.\n"]


def test_jargon_doc_unwraps_prose_and_keeps_examples():
    entry = (
        "/dev/null\n"
        "    /dev·nuhl/, n.\n"
        "\n"
        "    [from the Unix null device] A place where output goes to be\n"
        "    discarded. See {bit\n"
        "    bucket}.\n"
        "\n"
        "        $ cat file > /dev/null\n"
        "          (nothing)\n"
    )
    assert bc.jargon_doc(entry) == bc.Doc(
        "/dev/null /dev·nuhl/, n.\n\n"
        "[from the Unix null device] A place where output goes to be discarded. See bit bucket.\n\n"
        "$ cat file > /dev/null\n  (nothing)",
        "/dev/null",
    )


def test_jargon_doc_without_a_body_is_dropped():
    assert bc.jargon_doc("foo\n    n.\n") is None


@pytest.mark.parametrize(
    ("headword", "grammar", "heading"),
    [
        ("hacker", "n.", "hacker, n."),
        ("/dev/null", "/dev·nuhl/, n.", "/dev/null /dev·nuhl/, n."),
        ("kluge", "//, n.", "kluge, n."),
        ("foo", ", adj.", "foo, adj."),
        ("foo", "", "foo"),
    ],
)
def test_jargon_heading(headword, grammar, heading):
    assert bc.jargon_heading(headword, grammar) == heading


def test_is_jargon_prose():
    assert bc.is_jargon_prose(["    one line", "    another"])
    assert not bc.is_jargon_prose(["    ragged", "      indent"])
    assert not bc.is_jargon_prose(["        deep"])
    assert not bc.is_jargon_prose(["    ┌──┐", "    │ok│"])


# ---------------------------------------------------------------- Jane Austen


def test_austen_chapters_skip_front_matter_and_stop_at_the_end():
    lines = [
        "PRIDE AND PREJUDICE", "", "By Jane Austen", "",
        "Chapter 1", "",
        "It is a truth universally acknowledged, that a single man in",
        "possession of a good fortune, must be in want of a wife.", "",
        '"My dear Mr. Bennet," said his lady to him one day.--',
        '"Have you heard?"', "",
        "Chapter 2", "",
        "  Mr. Bennet was among the earliest.  ",
        "THE END", "",
        "Text after the end mark.",
    ]
    assert list(bc.austen_chapters(lines)) == [
        ("Chapter 1", [
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife.",
            '"My dear Mr. Bennet," said his lady to him one day.--"Have you heard?"',
        ]),
        ("Chapter 2", ["Mr. Bennet was among the earliest."]),
    ]


def test_austen_chapters_label_volumes():
    lines = ["VOLUME I", "", "CHAPTER I", "", "Text one.", "", "VOLUME II", "CHAPTER I.", "", "Text two."]
    assert list(bc.austen_chapters(lines)) == [
        ("Volume I, Chapter I", ["Text one."]),
        ("Volume II, Chapter I", ["Text two."]),
    ]


def test_clean_austen_paragraph_drops_underscore_italics_only():
    assert bc.clean_austen_paragraph("She was _not_ pleased with my_friend_s note.") == (
        "She was not pleased with my_friend_s note."
    )


# ---------------------------------------------------------------- Python documentation

SPHINX_PAGE = """<!DOCTYPE html>
<html><head><title>3. An Informal Introduction</title><meta charset="utf-8"></head><body>
<div class="related" role="navigation"><p>Navigation text</p></div>
<div class="body" role="main">
<section id="intro">
<h1><span class="section-number">3. </span>An Informal Introduction<a class="headerlink" href="#intro">¶</a></h1>
<p>Many of the examples in this manual,
even those entered at the interactive prompt, include comments.</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="gp">&gt;&gt;&gt; </span><span class="mi">2</span> <span class="o">+</span> <span class="mi">2</span>
<span class="go">4</span>
</pre></div></div>
<table class="docutils"><tr><td><p>A table cell<br>with <img src="icon.png"> an icon</p></td></tr></table>
<h2>Why is it so?<a class="headerlink" href="#why">¶</a></h2>
<ul><li><p>First item &amp; more</p></li></ul>
<div class="toctree-wrapper compound"><ul><li><a href="x.html">A page title</a></li></ul></div>
<p>An image <img src="a.png" alt=""> does not hide what follows.</p>
</section>
</div>
<div class="footer"><p>Footer text</p></div>
</body></html>
"""


def test_pydoc_page_extracts_title_and_body_blocks(tmp_path):
    page = tmp_path / "introduction.html"
    page.write_text(SPHINX_PAGE, "utf-8")
    assert bc.pydoc_page(page) == ("An Informal Introduction", [
        "Many of the examples in this manual, even those entered at the interactive prompt, include comments.",
        ">>> 2 + 2\n4",
        "Why is it so?",
        "First item & more",
        "An image does not hide what follows.",
    ])


def test_python_docs_licence_quotes_both_licence_bodies(tmp_path):
    page = tmp_path / "license.html"
    page.write_text(
        '<section id="psf-license-agreement-for-python-release"><h3>PSF</h3>'
        '<div class="highlight"><pre><span>1. This LICENSE AGREEMENT is between the PSF &amp; you.</span>\n</pre></div>'
        '</section><section id="zero-clause-bsd-license-for-code-in-the-python-release-documentation">'
        "<pre>Permission to use, copy, modify &lt;freely&gt;.</pre></section>",
        "utf-8",
    )
    assert bc.python_docs_licence(page) == (
        bc.PYTHON_DOCS_LICENCE_INTRO
        + "\n\n--- PSF License Agreement ---\n\n1. This LICENSE AGREEMENT is between the PSF & you."
        + "\n\n--- Zero-Clause BSD licence (code in the documentation) ---\n\n"
        + "Permission to use, copy, modify <freely>."
    )


def test_python_docs_licence_says_which_section_is_missing(tmp_path):
    page = tmp_path / "license.html"
    page.write_text("<html></html>", "utf-8")
    with pytest.raises(RuntimeError, match="PSF License Agreement not found"):
        bc.python_docs_licence(page)


# ---------------------------------------------------------------- output


def _part(source: str, docs: list) -> object:
    return bc.Part(source=source, description="A test part", origins=[bc.Origin("Debian", "pkg", "1.0", "/a")],
                   licence_name="MIT", licence_text="licence", cleaning=["step one"], docs=docs)


def test_records_number_ids_per_source_and_omit_missing_titles():
    parts = [_part("fortunes", [bc.Doc("a", "zippy"), bc.Doc("b")]), _part("jargon", [bc.Doc("c", "hack")])]
    assert list(bc.records(parts)) == [
        {"id": "fortunes-0", "source": "fortunes", "title": "zippy", "text": "a"},
        {"id": "fortunes-1", "source": "fortunes", "text": "b"},
        {"id": "jargon-0", "source": "jargon", "title": "hack", "text": "c"},
    ]


def test_write_jsonl_gz_is_byte_reproducible(tmp_path):
    rows = [{"text": "naïve", "id": "a-0", "source": "a"}]
    first, second = tmp_path / "one" / "x.jsonl.gz", tmp_path / "two.jsonl.gz"
    bc.write_jsonl_gz(first, rows)
    bc.write_jsonl_gz(second, rows)
    raw = first.read_bytes()
    assert raw == second.read_bytes()
    assert raw[3] & 0x08 == 0 and raw[4:8] == b"\0\0\0\0"  # no file name, mtime 0
    assert gzip.decompress(raw).decode("utf-8") == '{"id": "a-0", "source": "a", "text": "naïve"}\n'
    assert json.loads(gzip.decompress(raw)) == rows[0]


def test_provenance_credits_only_titles_that_survived_the_cap():
    part = _part("wikipedia", [bc.Doc("kept text", "Andorra")])
    part.available_chars = 1234
    part.credits = {"Andorra": "Andorra (revision 7151)", "Anarchism": "Anarchism (revision 9)"}
    part.credits_heading = "Articles used:"
    markdown = bc.provenance_markdown([part], Path("default.jsonl.gz"))
    assert "`default.jsonl.gz` holds 1 documents, 9 characters of text" in markdown
    assert "| wikipedia | 1 | 9 | 1,234 | MIT |" in markdown
    assert "- Articles used:\n  - Andorra (revision 7151)\n" in markdown
    assert "Anarchism" not in markdown
    assert "(cap 2,000,000; 1,234 available)" in markdown
    assert markdown.endswith("```text\nlicence\n```\n")
