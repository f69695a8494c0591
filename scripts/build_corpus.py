#!/usr/bin/env python3
"""Build Featurepedia's bundled default text corpus from package-registry sources.

The corpus is a few MB of real, varied English assembled from openly licensed
texts that ship inside ordinary PyPI and Debian packages, so it can be rebuilt
on any machine that reaches those registries:

* ``wikipedia``   -- the English Wikipedia sample in gensim's test data (CC BY-SA)
* ``fortunes``    -- Debian's ``fortunes`` and ``fortunes-min`` cookie files (BSD)
* ``jargon``      -- the Jargon File 4.4.7 from Debian's ``dict-jargon`` (public domain)
* ``austen``      -- Jane Austen's six novels from Debian's ``r-cran-janeaustenr``
* ``python-docs`` -- tutorial, HOWTO and FAQ pages of Debian's ``python3.11-doc`` (PSF)

Output (both regenerated on every run, so they never drift apart):

* ``src/featurepedia/corpus/data/default.jsonl.gz`` -- one JSON object per line:
  ``{"id": "<source>-<n>", "source": ..., "title": ..., "text": ...}``
* ``src/featurepedia/corpus/data/PROVENANCE.md`` -- package, version, path,
  licence, cleaning and counts for every part.

The output is deterministic for the same input packages and build tools:
documents are selected and ordered without randomness, JSON keys are sorted and
the gzip header carries no file name and mtime 0 (so the compressed bytes are
identical too, given the same zlib).

Build-time requirements (the runtime package needs none of them):

* pip packages: ``mwparserfromhell`` (wikitext parsing) and ``rdata`` (R
  serialisation): ``pip install mwparserfromhell==0.7.2 rdata==1.1.0``;
* Debian tools: ``apt-get`` (after ``apt-get update``) and ``dpkg-deb``.

Usage::

    python scripts/build_corpus.py [--any-version] [--keep-downloads DIR]
"""

from __future__ import annotations

import argparse
import bz2
import dataclasses
import gzip
import hashlib
import html
import html.parser
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import unicodedata
import warnings
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # build tools are imported lazily so --help works without them
    from mwparserfromhell.nodes import Tag, Template, Wikilink
    from mwparserfromhell.wikicode import Wikicode

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "src" / "featurepedia" / "corpus" / "data"
OUTPUT_PATH = DATA_DIR / "default.jsonl.gz"
PROVENANCE_PATH = DATA_DIR / "PROVENANCE.md"

# Pinned inputs. Pinning keeps rebuilds byte-identical; Debian drops superseded
# versions from its archive (notably security updates), so ``--any-version``
# lets a rebuild fall back to whatever version apt currently offers.
GENSIM_VERSION = "4.4.0"
DEBIAN_VERSIONS = {
    "fortunes": "1:1.99.1-7.3",
    "fortunes-min": "1:1.99.1-7.3",
    "dict-jargon": "4.4.7-3.1",
    "r-cran-janeaustenr": "1.0.0-1",
    "python3.11-doc": "3.11.2-6+deb12u9",
}

# Build-only Python tools. Their versions can change the cleaned text, so they
# are pinned too, and the build warns when others are installed.
BUILD_TOOLS = {"mwparserfromhell": "0.7.2", "rdata": "1.1.0"}

# Documents are "a paragraph to a few paragraphs": paragraphs are packed
# together until a document reaches TARGET_DOC_CHARS, and never beyond
# MAX_DOC_CHARS (over-long paragraphs are split at sentence boundaries).
TARGET_DOC_CHARS = 1500
MAX_DOC_CHARS = 4000

# Per-part budgets in characters, so that no single source dominates.
PART_CAPS = {
    "wikipedia": 2_000_000,
    "fortunes": 1_800_000,
    "jargon": 1_500_000,
    "austen": 2_000_000,
    "python-docs": 800_000,
}


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Doc:
    """One corpus document before it is given its final id."""

    text: str
    title: str | None = None


@dataclasses.dataclass
class Origin:
    """Where one input file came from: enough to fetch it again and credit it."""

    registry: str  # "PyPI" or "Debian"
    package: str
    version: str
    path: str  # path inside the package (wheel member or installed file)


@dataclasses.dataclass
class Part:
    """One source's contribution to the corpus, plus everything PROVENANCE needs."""

    source: str
    description: str
    origins: list[Origin]
    licence_name: str
    licence_text: str
    cleaning: list[str]
    docs: list[Doc] = dataclasses.field(default_factory=list)
    extra_notes: list[str] = dataclasses.field(default_factory=list)
    # Per-title credit lines (e.g. Wikipedia revision ids); only titles that
    # survive the cap are listed in PROVENANCE.md.
    credits: dict[str, str] = dataclasses.field(default_factory=dict)
    credits_heading: str = ""
    available_chars: int = 0  # before the per-part cap


# --------------------------------------------------------------------------
# Fetching packages
# --------------------------------------------------------------------------


def run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    """Run a command, failing loudly with its output if it does not succeed."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def fetch_wheel(package: str, version: str, dest: Path) -> Path:
    """Download one wheel (no dependencies) from PyPI with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
            str(dest),
            f"{package}=={version}",
        ]
    )
    wheels = sorted(dest.glob(f"{package}-{version}-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip did not produce a wheel for {package}=={version}")
    return wheels[0]


def fetch_deb(package: str, version: str | None, dest: Path) -> tuple[Path, str]:
    """Download and unpack a Debian package; return (unpacked root, exact version).

    ``apt-get download`` only fetches the .deb (nothing is installed) and
    ``dpkg-deb -x`` unpacks it into a private directory.
    """
    debs = dest / "debs" / package
    root = dest / "unpacked" / package
    for stale in (debs, root):  # a kept download dir may hold another version
        if stale.exists():
            shutil.rmtree(stale)
    debs.mkdir(parents=True)
    root.mkdir(parents=True)
    spec = f"{package}={version}" if version else package
    try:
        run(["apt-get", "download", spec], cwd=debs)
    except RuntimeError as exc:
        raise RuntimeError(
            f"could not download {spec}; run 'apt-get update' first, or pass "
            "--any-version if that exact version has left the archive"
        ) from exc
    (deb,) = debs.glob("*.deb")
    exact_version = run(["dpkg-deb", "--field", str(deb), "Version"]).strip()
    run(["dpkg-deb", "-x", str(deb), str(root)])
    return root, exact_version


# --------------------------------------------------------------------------
# Generic text helpers
# --------------------------------------------------------------------------

# Horizontal whitespace and line breaks, but *not* no-break spaces and other
# exotic spaces: those are real characters worth keeping for tokeniser tests.
_PLAIN_SPACE = re.compile(r"[ \t\r\n\f\v]+")
# A sentence end: terminal punctuation, optional closing quote/bracket, space,
# then something that can open a sentence.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])([\"'”’)\]]?)\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def normalise(text: str) -> str:
    """NFC-normalise (composes accents, keeps every non-ASCII character)."""
    return unicodedata.normalize("NFC", text)


def collapse_spaces(text: str) -> str:
    """Join a wrapped paragraph into one line with single spaces."""
    return _PLAIN_SPACE.sub(" ", text).strip()


def tidy_block(lines: Iterable[str]) -> str:
    """Keep a pre-formatted block's line structure but drop layout noise.

    Tabs are expanded, common indentation and trailing spaces removed, and
    leading/trailing blank lines dropped; runs of blank lines become one.
    """
    expanded = [line.expandtabs(8).rstrip() for line in lines]
    text = textwrap.dedent("\n".join(expanded)).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def split_long_paragraph(paragraph: str, max_chars: int) -> list[str]:
    """Split an over-long paragraph into pieces <= max_chars.

    Prose is cut at sentence ends; a pre-formatted block (it has line breaks:
    code, a table, verse) at line ends so that its lines stay intact.
    """
    if "\n" in paragraph:
        return _greedy_join(paragraph.split("\n"), "\n", max_chars)
    sentences = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(paragraph):
        end = match.start() + len(match.group(1))
        sentences.append(paragraph[start:end])
        start = match.end()
    sentences.append(paragraph[start:])
    return _greedy_join(sentences, " ", max_chars)


def _greedy_join(units: list[str], separator: str, max_chars: int) -> list[str]:
    """Join units with separator into as few pieces <= max_chars as possible."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        # A single monster unit (a run-on list, a huge line) is cut at spaces.
        while len(unit) > max_chars:
            cut = unit.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(unit[:cut].rstrip())
            unit = unit[cut:].lstrip()
        candidate = f"{current}{separator}{unit}" if current else unit
        if len(candidate) <= max_chars:
            current = candidate
        else:
            pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return pieces


def pack_paragraphs(
    paragraphs: Iterable[str],
    target_chars: int = TARGET_DOC_CHARS,
    max_chars: int = MAX_DOC_CHARS,
) -> Iterator[str]:
    """Group consecutive paragraphs into documents of about target..max chars."""
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        pieces = [paragraph] if len(paragraph) <= max_chars else split_long_paragraph(paragraph, max_chars)
        for piece in pieces:
            added = len(piece) + (2 if current else 0)  # "\n\n" separator
            if current and size + added > max_chars:
                yield "\n\n".join(current)
                current, size, added = [], 0, len(piece)
            current.append(piece)
            size += added
            if size >= target_chars:
                yield "\n\n".join(current)
                current, size = [], 0
    if current:
        yield "\n\n".join(current)


def stable_key(*parts: str) -> str:
    """A hash used to pick documents deterministically but evenly."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def dedupe(docs: Iterable[Doc]) -> list[Doc]:
    """Drop documents whose text already occurred (fortune files overlap)."""
    seen: set[str] = set()
    unique = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            unique.append(doc)
    return unique


def cap_docs(source: str, docs: list[Doc], max_chars: int) -> list[Doc]:
    """Keep a deterministic, evenly spread subset of at most max_chars characters.

    Documents are visited in hash order (so every file, article or novel keeps
    roughly the same share) and the survivors are returned in original order.
    """
    if sum(len(d.text) for d in docs) <= max_chars:
        return docs
    order = sorted(range(len(docs)), key=lambda i: stable_key(source, docs[i].text))
    chosen: set[int] = set()
    total = 0
    for i in order:
        if total + len(docs[i].text) <= max_chars:
            chosen.add(i)
            total += len(docs[i].text)
    return [doc for i, doc in enumerate(docs) if i in chosen]


# --------------------------------------------------------------------------
# Wikipedia (gensim test data)
# --------------------------------------------------------------------------

WIKI_FILES = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "gensim/test/test_data/enwiki-table-markup.xml.bz2",
)

# Sections that hold references, link lists or galleries rather than prose.
WIKI_SKIP_SECTIONS = {
    "see also",
    "references",
    "notes",
    "external links",
    "further reading",
    "bibliography",
    "sources",
    "footnotes",
    "citations",
    "works cited",
    "notes and references",
    "references and notes",
    "gallery",
    "discography",
    "filmography",
    "selected works",
    "works",
    "publications",
    "links",
    "literature",
    "general references",
    "cited sources",
    "other",
}
# HTML/extension tags whose content is not running prose.
WIKI_DROP_TAGS = {
    "ref",
    "references",
    "table",
    "gallery",
    "math",
    "chem",
    "timeline",
    "imagemap",
    "score",
    "syntaxhighlight",
    "source",
    "pre",
    "code",
    "graph",
    "hiero",
    "noinclude",
    "includeonly",
    "templatedata",
    "inputbox",
}
# Link namespaces that embed or classify rather than show text: [[File:..]]
# renders an image (its "caption" is not running prose), [[Category:..]] nothing.
WIKI_HIDDEN_LINK_NAMESPACES = {"file", "image", "media", "category"}
# [[de:Anarchismus]]-style interlanguage links render nothing either.
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2,3}(-[a-z]+)*")
# Paragraphs shorter than this many words are headings-in-disguise,
# captions or list debris rather than prose.
WIKI_MIN_WORDS = 12
# Sentinel marking a line that began as a list item or indented quote.
_LIST_LINE = "\x00"


def wiki_pages(xml_bytes: bytes) -> Iterator[tuple[str, int, str]]:
    """Yield (title, revision id, wikitext) for main-namespace, non-redirect pages."""
    for _, elem in ET.iterparse(io.BytesIO(xml_bytes)):
        if not elem.tag.endswith("}page"):
            continue
        ns = elem.findtext("{*}ns")
        is_redirect = elem.find("{*}redirect") is not None
        title = elem.findtext("{*}title") or ""
        rev_id = int(elem.findtext("{*}revision/{*}id") or 0)
        text = elem.findtext("{*}revision/{*}text") or ""
        elem.clear()
        if ns == "0" and not is_redirect and not text.lstrip().lower().startswith("#redirect"):
            yield title, rev_id, text


def render_wikicode(code: Wikicode) -> str:
    """Render parsed wikitext to plain text, dropping everything that is not prose."""
    import mwparserfromhell.nodes as n

    out: list[str] = []
    for node in code.nodes:
        if isinstance(node, n.Text):
            out.append(node.value)
        elif isinstance(node, n.Wikilink):
            out.append(render_wikilink(node))
        elif isinstance(node, n.ExternalLink):
            # [url label] reads as its label; bare URLs are dropped.
            if node.brackets and node.title:
                out.append(render_wikicode(node.title))
        elif isinstance(node, n.HTMLEntity):
            out.append(node.normalize())
        elif isinstance(node, n.Tag):
            out.append(render_wiki_tag(node))
        elif isinstance(node, n.Template):
            out.append(render_wiki_template(node))
        elif isinstance(node, n.Heading):
            out.append("\n\n")  # headings are not prose, but they end a paragraph
        # Comments, arguments ({{{x}}}) and anything else render as nothing.
    return "".join(out)


def render_wikilink(link: Wikilink) -> str:
    """[[target|label]] shows its label, [[target]] its target; hidden links vanish."""
    title = str(link.title).strip()
    namespace = title.split(":", 1)[0].strip().lower() if ":" in title else ""
    if namespace in WIKI_HIDDEN_LINK_NAMESPACES:  # a leading ':' would make it visible
        return ""
    if link.text is None and _LANGUAGE_PREFIX.fullmatch(namespace):
        return ""
    return render_wikicode(link.text if link.text is not None else link.title).lstrip(":")


def render_wiki_tag(tag: Tag) -> str:
    """Render a tag node: list markers become sentinels, non-prose tags vanish."""
    name = str(tag.tag).strip().lower()
    if name in {"li", "dt", "dd"}:
        return _LIST_LINE  # '*', '#', ';' or ':' at the start of a line
    if name == "br":
        return " "
    if name in WIKI_DROP_TAGS or tag.contents is None:
        return ""
    return render_wikicode(tag.contents)


def render_wiki_template(template: Template) -> str:
    """Keep the visible text of a few inline templates; drop all the others.

    Dropping every template would leave holes in sentences ("a distance of
    km"); these few cover most inline text in the sample.
    """
    name = str(template.name).strip().lower().replace("_", " ")

    def param(key: str | int) -> str:
        key = str(key)
        return render_wikicode(template.get(key).value).strip() if template.has(key) else ""

    if name in {"lang", "transl", "transliteration"}:
        return param(3) or param(2)
    if name.startswith("lang-"):
        return param(1)
    if name in {"nowrap", "nobr", "small", "smaller", "big", "sic", "not a typo", "em", "strong"}:
        return param(1)
    if name.startswith("formatnum:"):  # a parser function: {{formatnum: 3003}}
        return str(template.name).split(":", 1)[1].strip()
    if name == "angbr":  # a grapheme, as in "the letter ⟨a⟩"
        return f"⟨{param(1)}⟩"
    if name == "vr":
        return param(1)
    # IPA is valuable non-ASCII. {{IPA|/a/}} carries its own delimiters;
    # {{IPA-ca|ənˈdorə}} is shown in square brackets.
    if name == "ipa":
        return param(1)
    if name.startswith("ipa-"):
        return f"[{param(1)}]" if param(1) else ""
    if name in {"convert", "cvt"}:
        return f"{param(1)} {param(2)}".strip()
    if name in {"quote", "cquote", "quotation", "blockquote", "quote box"}:
        text = param("text") or param("quote") or param(1)
        return f"\n\n{text}\n\n" if text else ""
    if name in {"mdash", "--"}:
        return "—"
    if name == "ndash":
        return "–"
    if name in {"snd", "spaced ndash"}:
        return " – "
    if name in {"'", "' \""}:
        return "'"
    return ""


def wiki_sections(wikitext: str) -> Iterator[str]:
    """Yield the wikitext of each prose section (headings stripped)."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    skip_level: int | None = None  # inside a skipped section of this level
    for section in code.get_sections(flat=True, include_lead=True):
        headings = section.filter_headings(recursive=False)
        if headings:
            heading = headings[0]
            level = heading.level
            title = collapse_spaces(heading.title.strip_code()).lower()
            if skip_level is not None and level > skip_level:
                continue  # a subsection of a skipped section
            skip_level = level if title in WIKI_SKIP_SECTIONS else None
            if skip_level is not None:
                continue
        elif skip_level is not None:
            continue
        yield render_wikicode(section)


def wiki_paragraphs(rendered: str) -> Iterator[str]:
    """Turn rendered section text into clean prose paragraphs."""
    for block in re.split(r"\n\s*\n", rendered):
        lines = [
            line
            for line in block.split("\n")
            if line.strip() and not line.lstrip().startswith((_LIST_LINE, "{|", "|", "!"))
        ]
        paragraph = collapse_spaces(" ".join(lines))
        paragraph = tidy_wiki_punctuation(paragraph)
        if len(paragraph.split()) >= WIKI_MIN_WORDS and paragraph[-1] in ".!?\"'”’)":
            yield paragraph


def tidy_wiki_punctuation(text: str) -> str:
    """Repair the debris that removed templates and refs leave in plain text."""
    text = text.replace(_LIST_LINE, "")
    # A <ref> whose contents broke the parser (unbalanced '') survives as text.
    text = re.sub(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", "", text, flags=re.DOTALL)
    text = re.sub(r"''+", "", text)  # stray bold/italic quotes from broken markup
    text = re.sub(r"\(\s*[,;:\s]*\)", "", text)  # "()" or "(; , )" left by dropped templates
    text = re.sub(r"\(\s*[,;:]?\s*", "(", text)
    text = re.sub(r",(\s*,)+", ",", text)  # "angle, , and" where a formula was
    text = re.sub(r"\s*[,;:]\s*\)", ")", text)
    text = re.sub(r" +([,.;:!?])", r"\1", text)
    return re.sub(r" {2,}", " ", text).strip()


def build_wikipedia(wheel: Path, version: str) -> Part:
    """Extract prose documents from the Wikipedia dumps inside the gensim wheel."""
    part = Part(
        source="wikipedia",
        description="English Wikipedia articles (2016 dump sample bundled as gensim test data)",
        # The member path, not the wheel's file name: that names a platform,
        # and every platform's wheel carries the same test data.
        origins=[Origin("PyPI", "gensim", version, path) for path in WIKI_FILES],
        licence_name="CC BY-SA 3.0 (Wikipedia text; gensim itself is LGPL-2.1)",
        licence_text=WIKIPEDIA_LICENCE,
        cleaning=[
            "main-namespace, non-redirect pages only",
            "parsed with mwparserfromhell; templates, `<ref>`s, tables, galleries, math, "
            "comments, file/image/category/interwiki links and bare URLs removed",
            "`[[target|label]]` links reduced to their label, `[url label]` to the label",
            "a few inline templates kept as text (lang, nowrap, convert, quote, dashes)",
            "headings removed; 'See also', 'References', 'External links' and similar "
            "sections (with their subsections) dropped",
            "list items, indented lines and paragraphs under "
            f"{WIKI_MIN_WORDS} words or not ending in punctuation dropped",
            "paragraphs unwrapped to one line, NFC-normalised",
        ],
        credits_heading=(
            "Articles used, with the revision in the dump (authors are listed in each "
            "article's history at `https://en.wikipedia.org/w/index.php?title=<title>&action=history`):"
        ),
    )
    with zipfile.ZipFile(wheel) as zf:
        for member in WIKI_FILES:
            xml_bytes = bz2.decompress(zf.read(member))
            for title, rev_id, wikitext in wiki_pages(xml_bytes):
                paragraphs = [p for s in wiki_sections(wikitext) for p in wiki_paragraphs(s)]
                if not paragraphs:
                    continue
                part.credits[title] = f"{title} (revision {rev_id})"
                part.docs.extend(Doc(normalise(t), title) for t in pack_paragraphs(paragraphs))
    return part


# --------------------------------------------------------------------------
# Fortunes (Debian fortunes, fortunes-min)
# --------------------------------------------------------------------------

FORTUNE_DIR = "usr/share/games/fortunes"
# ASCII art is not English text; everything else is kept.
FORTUNE_SKIP_FILES = {"ascii-art"}
# A run of characters that could be UTF-8 bytes misread as Latin-1 (mojibake).
_LATIN1_RUN = re.compile(r"[\x80-\xff]{2,}")
# C0 control characters other than newline (e.g. the BEL in "<CONTROL-G>").
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def fortune_files(root: Path) -> list[Path]:
    """The strfile text files in an unpacked fortunes package (not .dat, not .u8 links)."""
    directory = root / FORTUNE_DIR
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and p.suffix not in {".dat", ".u8"}
        and p.name not in FORTUNE_SKIP_FILES
    )


def read_fortunes(path: Path) -> Iterator[str]:
    """Split a strfile source file (records separated by '%' lines) into fortunes."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older fortune releases had Latin-1 cookie files
    record: list[str] = []
    for line in text.split("\n"):
        if line.rstrip() == "%":
            yield from _finish_fortune(record)
            record = []
        else:
            record.append(line)
    yield from _finish_fortune(record)


def _finish_fortune(lines: list[str]) -> Iterator[str]:
    """Clean one fortune; line breaks are kept because poems and dialogues need them."""
    text = tidy_block(resolve_overstrike(line) for line in lines)
    text = _CONTROL.sub("", repair_mojibake(text))
    if text.strip():
        yield text


def resolve_overstrike(line: str) -> str:
    """Replay backspaces as a terminal would, keeping the letter over an underline.

    Cookie files underline with "_\bx" and with "___\b\b\bnot"; deleting
    each character before a backspace gets the second form wrong.
    """
    cells: list[str] = []
    cursor = 0
    for char in line:
        if char == "\b":
            cursor = max(cursor - 1, 0)
            continue
        if cursor == len(cells):
            cells.append(char)
        elif char != "_":  # an underscore struck over a letter leaves the letter
            cells[cursor] = char
        cursor += 1
    return "".join(cells)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was (perhaps repeatedly) decoded as Latin-1.

    A few cookie files contain "donÃ¢Â\x80Â\x99t" for "don’t". Each run of
    Latin-1-range characters is re-decoded while it still forms valid UTF-8;
    genuine Latin-1 letters ("é", "ßü") never do, so they are left alone.
    """

    def fix(match: re.Match[str]) -> str:
        run = match.group(0)
        while True:
            try:
                decoded = run.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return run
            if decoded == run:
                return run
            run = decoded

    return _LATIN1_RUN.sub(fix, text)


def build_fortunes(packages: dict[str, tuple[Path, str]]) -> Part:
    """Every fortune of every file in fortunes and fortunes-min as one document each."""
    names = ["fortunes", "fortunes-min"]
    origins: list[Origin] = []
    docs: list[Doc] = []
    for name in names:
        root, version = packages[name]
        for path in fortune_files(root):
            origins.append(Origin("Debian", name, version, f"/{FORTUNE_DIR}/{path.name}"))
            docs.extend(Doc(normalise(t), path.name) for t in read_fortunes(path))
    return Part(
        source="fortunes",
        description="fortune-mod cookie files: quotations, jokes, poems, IRC logs",
        origins=origins,
        licence_name="BSD (Regents of the University of California; clause 3 deleted)",
        licence_text=FORTUNES_LICENCE,
        cleaning=[
            "split at '%' separator lines; one fortune per document, title = cookie file",
            "terminal overstrike (underlining with backspaces) replayed to plain letters; "
            "other control characters (a BEL) removed; mojibake (UTF-8 read as Latin-1, "
            "sometimes twice) in a few files repaired",
            "tabs expanded, common indentation and trailing spaces removed; line breaks kept",
            "the ascii-art file is left out; exact duplicates (e.g. linux vs linuxcookie) dropped",
        ],
        docs=dedupe(docs),
        extra_notes=[
            "Debian no longer ships the offensive fortunes (the old `fortunes-off` "
            "package is gone from the archive), so the profanity here is the mild "
            "kind the main files contain (e.g. 'asshole', 'shit', 'son-of-a-bitch')."
        ],
    )


# --------------------------------------------------------------------------
# Jargon File (Debian dict-jargon)
# --------------------------------------------------------------------------

JARGON_DICT = "usr/share/dictd/jargon.dict.dz"
JARGON_INDEX = "usr/share/dictd/jargon.index"
_BOX_DRAWING = re.compile(r"[\u2500-\u257f]")
_DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(text: str) -> int:
    """Decode a dictd index number (big-endian base 64, its own alphabet)."""
    value = 0
    for char in text:
        value = value * 64 + _DICTD_B64.index(char)
    return value


def jargon_entries(dict_bytes: bytes, index_text: str) -> Iterator[str]:
    """Yield each lexicon entry's raw text once, in dictionary order."""
    seen: set[int] = set()
    spans = []
    for line in index_text.splitlines():
        headword, offset_code, length_code = line.split("\t")[:3]
        start = dictd_number(offset_code)
        if headword.startswith("00-database") or start in seen:
            continue  # metadata, or an alias pointing at an entry already taken
        seen.add(start)
        spans.append((start, dictd_number(length_code)))
    for start, length in sorted(spans):
        yield dict_bytes[start : start + length].decode("utf-8")


def jargon_doc(entry: str) -> Doc | None:
    """Turn one dictd entry into a document: 'headword /pron/, n.' then the body.

    Prose paragraphs are unwrapped; indented examples (code, diagrams,
    verse) keep their lines. {cross references} lose their braces.
    """
    # Braces first: a {cross reference} may wrap, leaving "{well-behaved\n    }."
    entry = re.sub(r"\{\s*([^{}]*?)\s*\}", r"\1", entry)
    lines = entry.strip("\n").split("\n")
    headword = lines[0].strip()
    rest = lines[1:]
    grammar = ""
    if rest and rest[0].startswith(" ") and rest[0].strip():
        grammar = rest.pop(0).strip()  # e.g. "/dev·nuhl/, n." or "//, n."
    heading = jargon_heading(headword, grammar)
    paragraphs = []
    for block in re.split(r"\n\s*\n", "\n".join(rest)):
        block_lines = [line for line in block.split("\n") if line.strip()]
        if not block_lines:
            continue
        if is_jargon_prose(block_lines):
            paragraphs.append(collapse_spaces(block))
        else:
            paragraphs.append(tidy_block(block_lines))
    if not paragraphs:
        return None
    text = "\n\n".join([heading, *paragraphs])
    return Doc(normalise(text), headword)


def is_jargon_prose(lines: list[str]) -> bool:
    """Body text sits at a 4-space indent; deeper or ragged indents and tables are verbatim."""
    indents = {len(line) - len(line.lstrip(" ")) for line in lines}
    has_table = any(_BOX_DRAWING.search(line) for line in lines)
    return len(indents) == 1 and min(indents) <= 4 and not has_table


def jargon_heading(headword: str, grammar: str) -> str:
    """'hacker' + 'n.' -> 'hacker, n.'; '/dev/null' + '/dev·nuhl/, n.' -> '/dev/null /dev·nuhl/, n.'."""
    grammar = grammar.removeprefix("//").strip()  # "//" means no pronunciation given
    if not grammar:
        return headword
    if grammar.startswith("/"):  # a pronunciation, then ", part of speech"
        return f"{headword} {grammar}"
    if grammar.startswith(","):
        return headword + grammar
    return f"{headword}, {grammar}"


def build_jargon(root: Path, version: str) -> Part:
    """One document per Jargon File lexicon entry (long entries split)."""
    dict_bytes = gzip.decompress((root / JARGON_DICT).read_bytes())  # dictzip is gzip
    index_text = (root / JARGON_INDEX).read_text("utf-8")
    docs = []
    for entry in jargon_entries(dict_bytes, index_text):
        doc = jargon_doc(entry)
        if doc is None:
            continue
        for piece in pack_paragraphs(doc.text.split("\n\n"), target_chars=MAX_DOC_CHARS):
            docs.append(Doc(piece, doc.title))
    return Part(
        source="jargon",
        description="The Jargon File 4.4.7 (29 Dec 2003), the Jargon Lexicon section",
        origins=[
            Origin("Debian", "dict-jargon", version, f"/{JARGON_DICT}"),
            Origin("Debian", "dict-jargon", version, f"/{JARGON_INDEX}"),
        ],
        licence_name="Public domain",
        licence_text=JARGON_LICENCE,
        cleaning=[
            "entries located through the dictd index (aliases de-duplicated) and "
            "read from the gunzipped .dict.dz",
            "document = 'headword pronunciation, part of speech' line then the body; title = headword",
            "prose paragraphs unwrapped to one line; indented examples (code, "
            "diagrams, verse) keep their lines; {cross-reference} braces removed",
            f"entries longer than {MAX_DOC_CHARS} characters split at paragraph boundaries",
        ],
        docs=docs,
    )


# --------------------------------------------------------------------------
# Jane Austen (Debian r-cran-janeaustenr, R lazy-load database)
# --------------------------------------------------------------------------

AUSTEN_DIR = "usr/lib/R/site-library/janeaustenr/data"
AUSTEN_TITLES = {
    "sensesensibility": "Sense and Sensibility",
    "prideprejudice": "Pride and Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}
_CHAPTER = re.compile(r"^(chapter|volume)\s+([ivxlc]+|\d+)\.?$", re.IGNORECASE)
# Lines after which a novel's own text is over (end marks, an editor's note).
_AUSTEN_END = {"the end", "finis", "a note on the text"}


def read_r_serialized(data: bytes) -> Any:
    """Decode one R-serialised object (XDR format) with rdata."""
    import rdata

    with warnings.catch_warnings():
        # rdata warns that a bare serialised stream has no RDS file header.
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(data))


def read_lazyload_db(rdx: bytes, rdb: bytes) -> dict[str, Any]:
    """Read every variable of an R lazy-load database (.rdx index + .rdb blob).

    The .rdx is a compressed serialised list whose ``variables`` element maps
    names to (offset, length) in the .rdb; each .rdb chunk is a 4-byte
    big-endian uncompressed length followed by a zlib stream that holds one
    serialised object. (rdata reads .rds/.rda files but not this format.)
    """
    index_bytes = gzip.decompress(rdx) if rdx[:2] == b"\x1f\x8b" else zlib.decompress(rdx[4:])
    index = read_r_serialized(index_bytes)
    if not index["compressed"][0]:
        raise ValueError("uncompressed lazy-load databases are not supported")
    objects = {}
    for name, (offset, length) in index["variables"].items():
        chunk = rdb[offset : offset + length]
        (expected,) = struct.unpack(">I", chunk[:4])
        data = zlib.decompress(chunk[4:])
        if len(data) != expected:
            raise ValueError(f"corrupt chunk for {name}")
        objects[str(name)] = read_r_serialized(data)
    return objects


def austen_chapters(lines: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """Yield (chapter label, paragraphs) for one novel given its text lines.

    Front matter before the first chapter and anything after the end mark
    are skipped. Volume headings feed into the chapter label.
    """
    volume = chapter = None
    paragraphs: list[str] = []
    current: list[str] = []

    def flush_paragraph() -> None:
        if current:
            # A dash at a line end joins words ("gaiety.--Tell"), so no space there.
            joined = "".join(line if line.endswith("--") else line + " " for line in current)
            paragraphs.append(collapse_spaces(joined))
            current.clear()

    for raw in lines:
        line = raw.strip()
        if line.lower() in _AUSTEN_END:
            break
        heading = _CHAPTER.match(line)
        if heading:
            flush_paragraph()
            if chapter and paragraphs:
                yield chapter, paragraphs
            paragraphs = []
            if heading.group(1).lower() == "volume":
                volume, chapter = f"Volume {heading.group(2).upper()}", None
            else:
                label = f"Chapter {heading.group(2).upper()}"
                chapter = f"{volume}, {label}" if volume else label
        elif chapter is None:
            continue  # title page, dedications, the author's advertisement
        elif line:
            current.append(line)
        else:
            flush_paragraph()
    flush_paragraph()
    if chapter and paragraphs:
        yield chapter, paragraphs


def clean_austen_paragraph(paragraph: str) -> str:
    """Drop Project Gutenberg's _underscore_ italics; keep everything else."""
    return re.sub(r"(?<!\w)_([^_]+)_(?!\w)", r"\1", paragraph)


def build_austen(root: Path, version: str) -> Part:
    """The six novels, chapter by chapter, packed into paragraph-group documents."""
    directory = root / AUSTEN_DIR
    novels = read_lazyload_db((directory / "Rdata.rdx").read_bytes(), (directory / "Rdata.rdb").read_bytes())
    docs: list[Doc] = []
    for key, title in AUSTEN_TITLES.items():  # publication order
        lines = [str(line) for line in novels[key]]  # a numpy array of str
        for chapter, paragraphs in austen_chapters(lines):
            cleaned = [clean_austen_paragraph(p) for p in paragraphs]
            docs.extend(Doc(normalise(t), f"{title}, {chapter}") for t in pack_paragraphs(cleaned))
    return Part(
        source="austen",
        description="Jane Austen's six completed novels (Project Gutenberg texts)",
        origins=[
            Origin("Debian", "r-cran-janeaustenr", version, f"/{AUSTEN_DIR}/Rdata.rdx"),
            Origin("Debian", "r-cran-janeaustenr", version, f"/{AUSTEN_DIR}/Rdata.rdb"),
        ],
        licence_name="Public domain (novels); the R package that carries them is MIT",
        licence_text=AUSTEN_LICENCE,
        cleaning=[
            "R lazy-load database decoded (zlib chunks + rdata for R serialisation)",
            "title pages, front matter before chapter one, end marks and the editor's "
            "'note on the text' dropped; chapter/volume headings become titles",
            "wrapped lines joined into paragraphs; `_underscore_` italics removed; "
            "Gutenberg's ASCII punctuation (--, straight quotes) left as is",
            f"paragraphs of one chapter packed into documents of ~{TARGET_DOC_CHARS}-"
            f"{MAX_DOC_CHARS} characters (long paragraphs split at sentence ends)",
        ],
        docs=docs,
    )


# --------------------------------------------------------------------------
# Python documentation (Debian python3.11-doc)
# --------------------------------------------------------------------------

PYDOC_DIR = "usr/share/doc/python3.11/html"
PYDOC_SECTIONS = ("tutorial", "howto", "faq")
PYDOC_BLOCKS = {"p", "pre", "dt", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
PYDOC_SKIP = {"table", "script", "style", "nav"}
# Permalink marks, section numbers and tables of contents (lists of page titles).
PYDOC_SKIP_CLASSES = {"headerlink", "section-number", "toctree-wrapper", "contents"}
_VOID_TAGS = {"br", "img", "hr", "wbr", "input", "meta", "link", "source"}


class SphinxTextExtractor(html.parser.HTMLParser):
    """Collect the block-level text of a Sphinx page's main body.

    Paragraph-like elements become paragraphs (whitespace collapsed); <pre>
    code keeps its lines. Tables, permalink anchors and page chrome are
    skipped.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.blocks: list[str] = []
        self._body_depth = 0  # <div> nesting inside div.body, 0 = outside
        self._skip_depth = 0  # nesting inside skipped elements
        self._block: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if self._body_depth == 0:
            if tag == "div" and "body" in classes and attributes.get("role") == "main":
                self._body_depth = 1
            return
        if tag == "div":
            self._body_depth += 1
        if self._skip_depth or tag in PYDOC_SKIP or PYDOC_SKIP_CLASSES.intersection(classes):
            # Void elements have no end tag, so they must not deepen the count.
            self._skip_depth += 0 if tag in _VOID_TAGS else 1
            return
        if tag in PYDOC_BLOCKS:
            self._flush()
            self._block = tag

    def handle_endtag(self, tag: str) -> None:
        if self._body_depth == 0:
            return
        if self._skip_depth:
            self._skip_depth -= 1
        elif tag in PYDOC_BLOCKS:
            self._flush()
        if tag == "div":
            self._body_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._body_depth and not self._skip_depth and self._block:
            self._buffer.append(data)

    def _flush(self) -> None:
        """Finish the current block, if any, as one paragraph."""
        text = "".join(self._buffer)
        if self._block == "pre":
            text = tidy_block(text.split("\n"))
        else:
            text = collapse_spaces(text)
        if text and self._block == "h1":
            self.title = self.title or text
        elif text:
            self.blocks.append(text)  # h2-h6 stay: FAQ questions are headings
        self._block, self._buffer = None, []


def pydoc_page(path: Path) -> tuple[str | None, list[str]]:
    """Extract (page title, paragraphs) from one HTML page."""
    parser = SphinxTextExtractor()
    parser.feed(path.read_text("utf-8"))
    parser.close()
    return parser.title, parser.blocks


def python_docs_licence(license_html: Path) -> str:
    """The PSF License Agreement and 0BSD texts, quoted from the docs' own licence page."""
    page = license_html.read_text("utf-8")
    sections = {
        "PSF License Agreement": "psf-license-agreement-for-python-release",
        "Zero-Clause BSD licence (code in the documentation)": (
            "zero-clause-bsd-license-for-code-in-the-python-release-documentation"
        ),
    }
    texts = [PYTHON_DOCS_LICENCE_INTRO]
    for heading, section_id in sections.items():
        # The licence body is the first <pre> after the section's anchor.
        match = re.search(rf'<section id="{section_id}">.*?<pre[^>]*>(.*?)</pre>', page, re.DOTALL)
        if match is None:
            raise RuntimeError(f"{heading} not found in {license_html}")
        body = html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()
        texts.append(f"--- {heading} ---\n\n{body}")
    return "\n\n".join(texts)


def build_python_docs(root: Path, version: str) -> Part:
    """Tutorial, HOWTO and FAQ pages: technical prose mixed with code examples."""
    base = root / PYDOC_DIR
    origins: list[Origin] = []
    docs: list[Doc] = []
    for section in PYDOC_SECTIONS:
        for path in sorted((base / section).glob("*.html")):
            title, paragraphs = pydoc_page(path)
            if not paragraphs:
                continue
            origins.append(
                Origin("Debian", "python3.11-doc", version, f"/{path.relative_to(root).as_posix()}")
            )
            docs.extend(Doc(normalise(t), title) for t in pack_paragraphs(paragraphs))
    return Part(
        source="python-docs",
        description="Python 3.11 documentation: the Tutorial, HOWTOs and FAQs",
        origins=origins,
        licence_name="PSF License Agreement (documentation); Zero-Clause BSD for code examples",
        licence_text=python_docs_licence(base / "license.html"),
        cleaning=[
            "text of the main body of each Sphinx HTML page (html.parser); tables, "
            "navigation, tables of contents, section numbers and permalink marks dropped; page `<h1>` = "
            "title, lower headings kept as short paragraphs (FAQ questions are headings)",
            "paragraphs and list items unwrapped to one line; `<pre>` code blocks "
            "keep their lines (interactive >>> sessions included)",
            f"consecutive blocks packed into documents of ~{TARGET_DOC_CHARS}-{MAX_DOC_CHARS} characters",
        ],
        docs=docs,
    )


# --------------------------------------------------------------------------
# Licence texts quoted in PROVENANCE.md
# --------------------------------------------------------------------------

WIKIPEDIA_LICENCE = """\
Text of Wikipedia articles by Wikipedia contributors, licensed under the
Creative Commons Attribution-ShareAlike 3.0 Unported licence
(https://creativecommons.org/licenses/by-sa/3.0/), the licence of Wikipedia
text at the time of the 2016 dump. The cleaned text in this corpus is an
adaptation and is shared under the same licence. Authors are listed in each
article's history (see the article list below)."""

FORTUNES_LICENCE = """\
Copyright (c) 1991 The Regents of the University of California.
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions
are met:

1. Redistributions of source code must retain the above copyright
   notice, this list of conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright
   notice, this list of conditions and the following disclaimer in the
   documentation and/or other materials provided with the distribution.
3. [ Deleted.  see :-
   ftp://ftp.cs.berkeley.edu/pub/4bsd/README.Impt.License.Change ]
4. Neither the name of the University nor the names of its contributors
   may be used to endorse or promote products derived from this software
   without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE REGENTS AND CONTRIBUTORS ``AS IS'' AND
ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED.  IN NO EVENT SHALL THE REGENTS OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS
OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)
HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT
LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY
OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF
SUCH DAMAGE.

(From /usr/share/doc/fortunes/copyright, which also records the
contributors of individual cookie files.)"""

JARGON_LICENCE = """\
This document (the Jargon File) is in the public domain, to be freely used,
shared, and modified. There are (by intention) no legal restraints on what you
can do with it, but there are traditions about its proper use to which many
hackers are quite strongly attached. Please extend the courtesy of proper
citation when you quote the File, ideally with a version number, as it will
change and grow over time. (Examples of appropriate citation form: "Jargon File
4.4.7" or "The on-line hacker Jargon File, version 4.4.7, 29 Dec 2003".)"""

AUSTEN_LICENCE = """\
The novels (1811-1818) are in the public domain; the texts are the Project
Gutenberg editions as packaged by janeaustenr. The janeaustenr package is
Copyright 2016-2017 Julia Silge and distributed under the MIT licence:

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""

PYTHON_DOCS_LICENCE_INTRO = """\
Python software and documentation are licensed under the PSF License
Agreement; examples, recipes and other code in the documentation are dual
licensed under the PSF License Agreement and the Zero-Clause BSD licence.
As clause 3 asks, the changes made are summarised under "Cleaning" above.
Both texts below are quoted from the package's license.html."""


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def records(parts: Sequence[Part]) -> Iterator[dict]:
    """JSON records with ids numbered per source in corpus order."""
    for part in parts:
        for number, doc in enumerate(part.docs):
            record = {"id": f"{part.source}-{number}", "source": part.source}
            if doc.title:
                record["title"] = doc.title
            record["text"] = doc.text
            yield record


def write_jsonl_gz(path: Path, rows: Iterable[dict]) -> None:
    """Write JSON lines through gzip with no name and mtime 0 (reproducible bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode(
        "utf-8"
    )
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(payload)


def provenance_markdown(parts: Sequence[Part], output: Path) -> str:
    """The PROVENANCE.md text for the parts as built."""
    total_docs = sum(len(p.docs) for p in parts)
    total_chars = sum(len(d.text) for p in parts for d in p.docs)
    lines = [
        "# Default corpus: provenance",
        "",
        "<!-- Generated by scripts/build_corpus.py; edit the script, not this file. -->",
        "",
        f"`{output.name}` holds {total_docs:,} documents, {total_chars:,} characters of text, "
        "as gzip-compressed JSON lines: "
        '`{"id": "<source>-<n>", "source": ..., "title": ... (optional), "text": ...}`.',
        "",
        "Rebuild it (and this file) from the package registries with:",
        "",
        "```sh",
        "apt-get update                           # apt-get download needs current lists",
        "pip install "
        + " ".join(f"{n}=={v}" for n, v in BUILD_TOOLS.items())
        + "   # build-only; the runtime does not use them",
        "python scripts/build_corpus.py",
        "```",
        "",
        "The build is deterministic: the same package and build-tool versions give the "
        "same text (and, with the same zlib, the same compressed bytes). "
        f"Each part is capped (documents chosen by a SHA-256 of their text) so no source "
        f"dominates; documents are at most {MAX_DOC_CHARS:,} characters, split at "
        "paragraph (or, failing that, sentence) boundaries. All text is NFC-normalised "
        "UTF-8; non-ASCII characters are kept.",
        "",
        "| source | documents | characters | available before cap | licence |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for part in parts:
        chars = sum(len(d.text) for d in part.docs)
        lines.append(
            f"| {part.source} | {len(part.docs):,} | {chars:,} | "
            f"{part.available_chars:,} | {part.licence_name} |"
        )
    for part in parts:
        lines += provenance_section(part)
    return "\n".join(lines) + "\n"


def provenance_section(part: Part) -> list[str]:
    """The PROVENANCE.md section for one part."""
    chars = sum(len(d.text) for d in part.docs)
    packages = sorted({(o.registry, o.package, o.version) for o in part.origins})
    lines = [
        "",
        f"## {part.source}",
        "",
        part.description + ".",
        "",
        f"- Documents: {len(part.docs):,}; characters: {chars:,} "
        f"(cap {PART_CAPS[part.source]:,}; {part.available_chars:,} available).",
        "- Packages: " + ", ".join(f"{pkg} {ver} ({reg})" for reg, pkg, ver in packages) + ".",
        f"- Licence: {part.licence_name}.",
        "- Paths inside the packages:",
    ]
    lines += [f"  - `{o.package}`: `{o.path}`" for o in part.origins]
    lines += ["- Cleaning:"] + [f"  - {step}" for step in part.cleaning]
    lines += [f"- {note}" for note in part.extra_notes]
    used_titles = {doc.title for doc in part.docs}
    credited = [line for title, line in part.credits.items() if title in used_titles]
    if credited:
        lines.append(f"- {part.credits_heading}")
        lines += [f"  - {line}" for line in credited]
    lines += ["", "Licence text:", "", "```text", part.licence_text, "```"]
    return lines


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def check_build_tools() -> None:
    """Fail early if a build tool is missing; warn if its version is not the pinned one."""
    from importlib import metadata

    for name, pinned in BUILD_TOOLS.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"missing build tool: pip install {name}=={pinned}")
        if installed != pinned:
            print(
                f"warning: {name} {installed} installed, {pinned} pinned; "
                "the output may differ from the committed corpus",
                file=sys.stderr,
            )


def fetch_all(workdir: Path, any_version: bool) -> tuple[Path, dict[str, tuple[Path, str]]]:
    """Download the gensim wheel and unpack every Debian package we read."""
    print(f"fetching gensim=={GENSIM_VERSION} from PyPI ...", flush=True)
    wheel = fetch_wheel("gensim", GENSIM_VERSION, workdir / "wheels")
    debs = {}
    for package, version in DEBIAN_VERSIONS.items():
        print(f"fetching {package} from Debian ...", flush=True)
        debs[package] = fetch_deb(package, None if any_version else version, workdir)
    return wheel, debs


def build_parts(wheel: Path, debs: dict[str, tuple[Path, str]]) -> list[Part]:
    """Run every extractor and apply the per-part caps."""
    builders: list[tuple[str, Callable[[], Part]]] = [
        ("wikipedia", lambda: build_wikipedia(wheel, GENSIM_VERSION)),
        ("fortunes", lambda: build_fortunes(debs)),
        ("jargon", lambda: build_jargon(*debs["dict-jargon"])),
        ("austen", lambda: build_austen(*debs["r-cran-janeaustenr"])),
        ("python-docs", lambda: build_python_docs(*debs["python3.11-doc"])),
    ]
    parts = []
    for name, builder in builders:
        print(f"building {name} ...", flush=True)
        part = builder()
        part.docs = dedupe(d for d in part.docs if d.text.strip())
        part.available_chars = sum(len(d.text) for d in part.docs)
        part.docs = cap_docs(part.source, part.docs, PART_CAPS[part.source])
        kept = sum(len(d.text) for d in part.docs)
        print(f"  {len(part.docs):,} documents, {kept:,} of {part.available_chars:,} characters", flush=True)
        parts.append(part)
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--any-version",
        action="store_true",
        help="take apt's current Debian versions instead of the pinned ones",
    )
    parser.add_argument(
        "--keep-downloads",
        type=Path,
        metavar="DIR",
        help="download and unpack into DIR and keep it (default: a temp dir)",
    )
    args = parser.parse_args(argv)
    check_build_tools()

    if args.keep_downloads:
        args.keep_downloads.mkdir(parents=True, exist_ok=True)
        workdir_cm = None
        workdir = args.keep_downloads
    else:
        workdir_cm = tempfile.TemporaryDirectory(prefix="featurepedia-corpus-")
        workdir = Path(workdir_cm.name)
    try:
        wheel, debs = fetch_all(workdir, args.any_version)
        parts = build_parts(wheel, debs)
    finally:
        if workdir_cm is not None:
            workdir_cm.cleanup()

    write_jsonl_gz(OUTPUT_PATH, records(parts))
    PROVENANCE_PATH.write_text(provenance_markdown(parts, OUTPUT_PATH), encoding="utf-8")
    print(f"wrote {OUTPUT_PATH.relative_to(REPO_ROOT)} ({OUTPUT_PATH.stat().st_size:,} bytes)")
    print(f"wrote {PROVENANCE_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
