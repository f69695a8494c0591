"""Reading an explanation as rules over tokens: what it says about a token's form, class or position.

:func:`parse` finds, in an explanation written in plain English, the parts that name something checkable
on a token: a suffix or prefix ("words ending in -ing"), casing ("in capital letters"), digits and years,
a symbol by name ("colons and semicolons"), a closed word class ("modal verbs"), a position ("the word
after 'of'", "at the start of a sentence", "inside quotation marks"), code and paths, line breaks. Each
becomes a :class:`Rule` that gives every token a value in [0, 1]. Words given as examples ("such as dog or
cat") and quoted strings become literal matches. What is left (the topic) is for the embedding model.

Rules of one kind are alternatives ("colons and semicolons": either), rules of different kinds all apply
("capitalised words at the start of a sentence": both); a rule after "not", "except" or "other than" is
negated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from featurepedia.interp.forms import lexicon as lx
from featurepedia.interp.forms.tokens import TokenInfo

Check = Callable[[list[TokenInfo], int], float]


@dataclass(frozen=True)
class Rule:
    """One checkable statement: ``kind`` groups alternatives; ``check(infos, k)`` is token k's value."""

    kind: str
    label: str
    check: Check
    negated: bool = False

    def value(self, infos: list[TokenInfo], k: int) -> float:
        v = self.check(infos, k)
        return 1.0 - v if self.negated else v


@dataclass
class Reading:
    """What :func:`parse` understood: rules, literal example strings and the remaining (topic) text."""

    rules: list[Rule] = field(default_factory=list)
    literals: list[str] = field(default_factory=list)
    rest: str = ""

    @property
    def labels(self) -> list[str]:
        return [("not " if r.negated else "") + r.label for r in self.rules]


def _tok(pred: Callable[[TokenInfo], bool | float]) -> Check:
    return lambda infos, k: float(pred(infos[k]))


def _word_rule(pred: Callable[[str], bool]) -> Check:
    """True on the last piece of a word that satisfies ``pred`` (0.6 on its other pieces)."""
    def check(infos: list[TokenInfo], k: int) -> float:
        t = infos[k]
        if not t.word or not pred(t.word):
            return 0.0
        return 1.0 if t.last_piece else 0.6

    return check


def _in_class(words: frozenset[str]) -> Check:
    return _tok(lambda t: t.text.lower() in words or (t.word in words and t.first_piece and t.last_piece))


def _has_symbol(chars: str) -> Check:
    return _tok(lambda t: bool(t.text) and any(c in t.text for c in chars) and not t.text.startswith("<|"))


def _digits(t: TokenInfo) -> bool:
    return any(c.isdigit() for c in t.text)


def _number_run(t: TokenInfo) -> str:
    """The digits of the number the token is part of ("1999" for each of "1", "9", "9", "9")."""
    return "".join(c for c in t.chunk if c.isdigit()) if _digits(t) else ""


def _is_year(t: TokenInfo) -> bool:
    m = re.search(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)", t.chunk)
    return bool(m) and _digits(t)


def _alpha(t: TokenInfo) -> bool:
    return t.text.isalpha()


def _all_caps(t: TokenInfo) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", t.text)
    return len(letters) >= 2 and letters.isupper() or (len(letters) == 1 and letters.isupper()
                                                         and t.word.upper() == t.word and len(t.word) >= 2)


def _capitalised(t: TokenInfo) -> bool:
    return t.text[:1].isupper() and t.first_piece and t.text[:1].isalpha()


def _code_like(t: TokenInfo) -> float:
    if t.code_line:
        return 1.0
    c = t.chunk
    return 0.8 if re.search(r"[_{}\[\]()=<>]|\w\.\w|::|->|^\$|^>>>", c) else 0.0


def _path_like(t: TokenInfo) -> bool:
    c = t.chunk
    return bool(t.text) and bool(re.search(r"\w[/\\]|[/\\]\w|://|www\.|\.(?:com|org|net|py|txt|html|c|h)\b", c))


def _identifier(t: TokenInfo) -> bool:
    c = t.chunk
    return bool(t.text) and bool(re.search(r"\w_|_\w|__|[a-z][A-Z]|[a-z]\.[a-z_]+\(?", c))


def _neighbour(rules: list[Rule], offset: int) -> Check:
    """A rule on the previous (offset -1) or next (+1) non-blank token."""
    def check(infos: list[TokenInfo], k: int) -> float:
        if not infos[k].text:
            return 0.0
        j = k + offset
        while 0 <= j < len(infos) and not infos[j].text:
            j += offset
        if not 0 <= j < len(infos):
            return 0.0
        value = max(r.value(infos, j) for r in rules)
        if value == 0 and offset < 0 and infos[j].text == "." and j > 0:  # "Mr. Elton" is the word after "Mr"
            value = max(r.value(infos, j - 1) for r in rules)
        return value

    return check


def literal_check(literal: str) -> Check:
    lit = literal.lower().strip()
    if not any(c.isalnum() for c in lit):
        return _has_symbol(lit)

    def check(infos: list[TokenInfo], k: int) -> float:
        t = infos[k]
        if not t.text:
            return 0.0
        if t.text.lower() == lit or t.word == lit or t.word == lit + "s" or t.word == lit + "es":
            return 1.0 if t.last_piece or t.text.lower() == lit else 0.6
        bare = t.chunk.lower().strip(".,;:!?\"'()[]“”‘’")
        return 1.0 if bare == lit and len(lit) > 1 else 0.0

    return check


# (pattern, kind, label, check) in order of priority: a match consumes its text.
_NAMED: list[tuple[str, str, str, Check]] = [
    # numbers
    (r"numbers? (?:written |spelled |spelt )?(?:out )?(?:as|in) (?:words|letters)|spel(?:led|t)[- ]out numbers?"
     r"|number words|numerals? written out|cardinal words", "class", "number words", _in_class(lx.NUMBER_WORDS)),
    (r"ordinals?(?: numbers?)?", "class", "ordinals",
     _tok(lambda t: t.word in lx.ORDINALS or bool(re.fullmatch(r"\d+(?:st|nd|rd|th)", t.chunk.lower())))),
    (r"(?:single|one)[- ]digits?(?: numbers?)?|numbers? with (?:only )?one digit|one digit", "digit", "one digit",
     _tok(lambda t: _digits(t) and len(_number_run(t)) == 1)),
    (r"two[- ]digits?(?: numbers?)?", "digit", "two digits", _tok(lambda t: len(_number_run(t)) == 2)),
    (r"three[- ]digits?(?: numbers?)?", "digit", "three digits", _tok(lambda t: len(_number_run(t)) == 3)),
    (r"(?:four[- ]digit )?(?:calendar )?years?|dates?|centur(?:y|ies) numbers", "year", "years", _tok(_is_year)),
    (r"four[- ]digits?(?: numbers?)?", "digit", "four digits", _tok(lambda t: len(_number_run(t)) == 4)),
    (r"percent(?:age)?s?|per cent", "digit", "percentages",
     _tok(lambda t: "%" in t.text or (_digits(t) and "%" in t.chunk))),
    (r"numbers?|numerals?|digits?|numeric(?:al)?(?: values?)?|figures|integers?|decimals?", "digit", "digits",
     _tok(_digits)),
    # casing
    (r"(?:starts?|starting|begins?|beginning) with an? (?:capital|upper[- ]?case) letter|initial capitals?"
     r"|capitali[sz]ed|title[- ]case|an? capital letter|upper[- ]?case first letter", "case", "capitalised",
     _tok(_capitalised)),
    (r"proper (?:nouns?|names?)|names? of (?:people|persons|places|cities|countries|characters|towns|companies"
     r"|organi[sz]ations)|(?:people|person|place|personal|first|family|sur)(?:'s)? ?names|surnames|named entit(?:y|ies)",
     "case", "proper names", _tok(_capitalised)),
    (r"all[- ]caps|all (?:in )?capitals?(?: letters)?|(?:in |all )?capital letters|(?:all |entirely )?(?:in )?"
     r"upper[- ]?case(?: letters| words)?|block capitals|acronyms?|abbreviations?|initialisms?|shouting",
     "case", "all capitals", _tok(_all_caps)),
    (r"lower[- ]?case(?: letters| words)?", "case", "lower case",
     _tok(lambda t: t.text.isalpha() and t.text.islower())),
    (r"camel[- ]?case", "code", "camelCase", _tok(lambda t: bool(re.search(r"[a-z][A-Z]", t.chunk)))),
    # whitespace
    (r"new[- ]?lines?(?: characters?)?|line[- ]?breaks?|line endings?|(?:the )?ends? of (?:a |the |each )?lines?"
     r"|carriage returns?|blank lines?|paragraph breaks?", "space", "line breaks", _tok(lambda t: "\n" in t.raw)),
    (r"indentation|indents?|leading (?:spaces|whitespace)|whitespace|tabs?", "space", "whitespace",
     _tok(lambda t: not t.text and bool(t.raw) or t.raw.startswith("\n "))),
    # code
    (r"(?:file ?|directory |folder )?paths?|director(?:y|ies)|folders?|urls?|web (?:addresses|links|sites?)"
     r"|links?|domains?|websites?|file ?names?|file extensions?|slashes", "code", "paths and URLs",
     _tok(_path_like)),
    (r"e-?mail addresses", "code", "email addresses", _tok(lambda t: "@" in t.chunk and "." in t.chunk)),
    (r"identifiers?|variable names?|function names?|method names?|attribute names?|snake[_ ]case|dunder",
     "code", "identifiers", _tok(_identifier)),
    (r"(?:programming |python |reserved )?keywords|reserved words", "class", "keywords",
     _tok(lambda t: t.text.lower() in lx.KEYWORDS and t.text.islower())),
    (r"(?:source )?code|programming|programs?|python|javascript|snippets?|shell commands?|syntax|scripts?",
     "context", "code", _tok(_code_like)),
    (r"html|xml|markup|tags", "code", "markup", _tok(lambda t: bool(re.search(r"</?\w|/>", t.chunk)))),
    # closed classes
    (r"first[- ]person(?: pronouns?| singular| plural)?|(?:the )?speakers? (?:uses? )?(?:for|about|to refer to) "
     r"(?:themselves|oneself|himself|herself)", "class", "first person", _in_class(lx.FIRST_PERSON)),
    (r"second[- ]person(?: pronouns?)?", "class", "second person", _in_class(lx.SECOND_PERSON)),
    (r"third[- ]person(?: pronouns?)?", "class", "third person", _in_class(lx.THIRD_PERSON)),
    (r"reflexive(?: pronouns?)?", "class", "reflexive pronouns", _in_class(lx.REFLEXIVE)),
    (r"possessive(?: pronouns?| determiners?| adjectives?)", "class", "possessives", _in_class(lx.POSSESSIVE)),
    (r"relative pronouns?", "class", "relative pronouns", _in_class(lx.RELATIVE)),
    (r"demonstratives?(?: pronouns?| determiners?)?", "class", "demonstratives", _in_class(lx.DEMONSTRATIVE)),
    (r"(?:personal )?pronouns?", "class", "pronouns", _in_class(lx.PERSONAL)),
    (r"(?:in)?definite and (?:in)?definite articles?|(?:in)?definite or (?:in)?definite articles?", "class",
     "articles", _in_class(lx.ARTICLES)),
    (r"definite articles?", "class", "definite article", _in_class(frozenset({"the"}))),
    (r"indefinite articles?", "class", "indefinite article", _in_class(frozenset({"a", "an"}))),
    (r"articles?", "class", "articles", _in_class(lx.ARTICLES)),
    (r"determiners?", "class", "determiners", _in_class(lx.DETERMINERS)),
    (r"quantifiers?", "class", "quantifiers", _in_class(lx.QUANTIFIERS)),
    (r"prepositions?(?:al)?(?: phrases?)?", "class", "prepositions", _in_class(lx.PREPOSITIONS)),
    (r"coordinating conjunctions?", "class", "coordinating conjunctions", _in_class(lx.COORDINATING)),
    (r"subordinating conjunctions?", "class", "subordinating conjunctions", _in_class(lx.SUBORDINATING)),
    (r"conjunctions?|connectives?", "class", "conjunctions", _in_class(lx.CONJUNCTIONS)),
    (r"modals?(?: verbs?| auxiliar(?:y|ies))?", "class", "modal verbs", _in_class(lx.MODALS)),
    (r"(?:forms? of )?(?:the verb )?(?:to be|\"be\"|'be'|be)(?: verbs?| in any tense)?(?=[\s,.;)]|$)|copula(?:s|r)?",
     "class", "forms of be", _in_class(lx.BE)),
    (r"(?:forms? of )?(?:the verb )?(?:to )?have(?= in any| verbs?)", "class", "forms of have",
     _in_class(lx.HAVE)),
    (r"auxiliar(?:y|ies)(?: verbs?)?|helping verbs?", "class", "auxiliary verbs", _in_class(lx.AUXILIARIES)),
    (r"negations?|negat(?:ive|ing|es?)(?: words?)?|negatives", "class", "negation", _in_class(lx.NEGATION)),
    (r"question words?|wh-?words?|interrogatives?(?: pronouns?| words?)?", "class", "question words",
     _in_class(lx.WH_WORDS)),
    (r"months?(?: of the year| names?)?", "class", "months", _in_class(lx.MONTHS)),
    (r"days? of the week|weekdays?", "class", "weekdays", _in_class(lx.WEEKDAYS)),
    (r"titles?|honorifics?|forms? of address", "class", "titles", _in_class(lx.TITLES)),
    (r"intensifiers?|degree adverbs?|intensifying adverbs?", "class", "intensifiers", _in_class(lx.INTENSIFIERS)),
    (r"contractions?", "class", "contractions", _tok(lambda t: "'" in t.text or "’" in t.text)),
    (r"function words?|stop ?words?|grammatical words?|closed[- ]class words?", "class", "function words",
     _in_class(lx.FUNCTION_WORDS)),
    # position in the sentence
    (r"(?:not|never) (?:at )?the (?:start|beginning) of (?:a |the )?sentences?|(?:in the )?middle of (?:a |the )?"
     r"sentences?|mid-?sentence|within (?:a )?sentences?", "position", "not at a sentence start",
     _tok(lambda t: 1.0 - t.sentence_start if t.text[:1].isalnum() else 0.0)),
    (r"(?:first|opening|initial) words? (?:of|in) (?:a |the |each )?sentences?|(?:at |the )?(?:start|beginning)s? "
     r"of (?:a |the |each |new )?sentences?|sentence[- ](?:initial|start)|starts? (?:a |the )?sentences?"
     r"|begins? (?:a |the )?sentences?", "position", "sentence start", _tok(lambda t: t.sentence_start)),
    (r"(?:last|final) words? (?:of|in) (?:a |the )?sentences?|(?:at )?(?:the )?ends? of (?:a |the )?sentences?"
     r"|sentence[- ](?:final|end(?:ing)?)|ends? (?:a |the )?sentences?|end of questions?", "position",
     "sentence end", _tok(lambda t: float(t.sentence_end))),
    (r"(?:start|beginning) of (?:a |the |each )?(?:line|row)s?|first words? (?:on|of) (?:a |the )?lines?",
     "position", "line start", _tok(lambda t: float(t.line_start))),
    # symbols named in words
    *[(names, "symbol", f"the symbol {chars}", _has_symbol(chars)) for names, chars in lx.SYMBOLS],
    (r"punctuation(?: marks?)?|symbols?|non-alphanumeric", "punctuation", "punctuation",
     _tok(lambda t: bool(t.text) and not any(c.isalnum() for c in t.text) and not t.text.startswith("<|"))),
]
_NAMED_RE = [(re.compile(rf"(?<![\w-]){p}(?![\w])"), kind, label, check) for p, kind, label, check in _NAMED]

_QUOTED = re.compile(r"[\"“]([^\"“”]{1,40})[\"”]|(?<![\w])['‘]([^'‘’\s][^'‘’]{0,30}?)['’](?![\w])")
_EXAMPLES = re.compile(r"(?<!look )(?<!looks )(?<!sound )\b(?:such as|like|e\.g\.,?|for example|for instance"
                       r"|including|as in|especially|mostly|mainly)\b|:")
_NEGATORS = re.compile(r"\b(?:not|never|except|excluding|other than|apart from|rather than|but not|no)\b")
_AFTER = re.compile(r"\b(?:(?:right|just|immediately|directly|that comes?|which comes?|coming) )?(?:after|following"
                    r"|follows?|preceded by|that follows?|(?:intensified|modified|qualified|introduced) by)\s+")
_BEFORE = re.compile(r"\b(?:(?:right|just|immediately|directly) )?(?:before|followed by|preceding|precedes?"
                     r"|in front of)\s+")
_INSIDE = re.compile(r"\b(?:inside|within|between|in|enclosed (?:in|by)|surrounded by|wrapped in)\s+(?:a |the )?"
                     r"(?:pairs? of |double |single |round |curly |square )?(quotation marks|quotes|quote marks"
                     r"|inverted commas|parenthes[ie]s|brackets|parens|braces)\b|\bquoted\b|\bparenthetical\b"
                     r"|\b(?:direct )?speech\b|\bdialogue\b")
_BETWEEN_MARKS = re.compile(r"\bbetween (\S{1,2}) and (\S{1,2})(?=\s|$|[,.;])")
_SUFFIX = [
    re.compile(r"(?<![\w-])-([a-z]{1,7})\b(?!-)"),
    re.compile(r"\b(?:end(?:s|ing)?|finish(?:es|ing)?)\s+(?:in|with)\s+(?:the\s+)?(?:letters?\s+|suffix(?:es)?\s+)?"
               r"-?([a-z]{1,7}(?:\s*/\s*-?[a-z]{1,7})*|qq[a-z]{2}qq)\b"),
    re.compile(r"\bsuffix(?:es)?\s+-?([a-z]{1,7}(?:\s*/\s*-?[a-z]{1,7})*|qq[a-z]{2}qq)\b"),
    re.compile(r"(?<![\w-])-?([a-z]{1,7})\s+suffix\b"),
    re.compile(r"\blast (?:letters?|characters?)\s+(?:are|is|of)?\s*-?([a-z]{1,7})\b"),
]
_PREFIX = [
    re.compile(r"(?<![\w-])([a-z]{1,6})-(?=[\s,;)\"'”’]|$)"),
    re.compile(r"\b(?:begin(?:s|ning)?|start(?:s|ing)?)\s+with\s+(?:the\s+)?(?:letters?\s+|prefix(?:es)?\s+)?"
               r"-?([a-z]{1,6}|qq[a-z]{2}qq)\b"),
    re.compile(r"\bprefix(?:es)?\s+([a-z]{1,6}|qq[a-z]{2}qq)-?\b"),
    re.compile(r"(?<![\w-])([a-z]{1,6})-?\s+prefix\b"),
    re.compile(r"\bfirst (?:letters?|characters?)\s+(?:are|is)?\s*([a-z]{1,6})\b"),
]
_NOT_AFFIX = {"a", "an", "the", "capital", "capitals", "uppercase", "upper", "lowercase", "vowel", "vowels",
              "consonant", "number", "numbers", "digit", "digits", "letter", "letters", "same", "word", "words",
              "in", "with", "of", "or", "and", "s", "y", "it", "that", "this", "to", "one", "two", "sentence",
              "line", "punctuation", "dot", "period", "comma", "space", "quote", "pre", "non", "self", "first",
              "second", "third", "person", "year", "years", "case", "sentences", "is", "are"}


def _placeholder(i: int) -> str:
    return f"qq{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}qq"


def _spelled(text: str) -> str:
    """'letters e-d' -> 'letters ed': letters spelled one by one become the string they spell."""
    return re.sub(r"\b((?:[a-z]-){1,5}[a-z])\b", lambda m: m.group(1).replace("-", ""), text)


def parse(explanation: str) -> Reading:
    """The rules, literals and topic text of an explanation (see module docstring)."""
    text = " " + _spelled(explanation.strip().lower()).replace("’", "'") + " "
    quoted: list[str] = []

    def keep_quote(m: re.Match[str]) -> str:
        quoted.append(m.group(1) if m.group(1) is not None else m.group(2))
        return f" {_placeholder(len(quoted) - 1)} "

    text = _QUOTED.sub(keep_quote, text)
    reading = Reading()
    used: set[int] = set()

    def resolve(fragment: str) -> str:
        for i, q in enumerate(quoted):
            fragment = fragment.replace(_placeholder(i), q)
        return fragment

    def quoted_at(fragment: str) -> int | None:
        m = re.match(r"\s*(qq[a-z]{2}qq)", fragment)
        if not m:
            return None
        for i in range(len(quoted)):
            if _placeholder(i) == m.group(1):
                return i
        return None

    # Examples: what follows "such as", "like" or a colon (outside quotes) is a list of literal examples, and
    # so is a bracketed list of short items ("(may, might, must)").
    for bracket in re.findall(r"\(([^()]*,[^()]*)\)", text):
        items = [x.strip(" .") for x in re.split(r",|\bor\b|\band\b", bracket)]
        if all(0 < len(x.split()) <= 2 for x in items):
            reading.literals.extend(resolve(x) for x in items)
            text = text.replace(f"({bracket})", " ")
    m = _EXAMPLES.search(text)
    head, examples = (text[: m.start()], text[m.end():]) if m else (text, "")
    for item in re.split(r",|\bor\b|\band\b|/|;|\(|\)|\betc\b\.?", examples):
        item = item.strip(" .!?")
        if not item:
            continue
        q = quoted_at(item)
        if q is not None:
            used.add(q)
            reading.literals.append(quoted[q])
        elif len(item.split()) <= 2:
            words = resolve(item).split()
            reading.literals.append(words[-1] if len(words) == 2 and words[0] in {"a", "an", "the"}
                                    else " ".join(words))
        else:
            head += " , " + item  # a description, not an example ("such as snake_case and camelCase names")
    head = _position_rules(head, quoted, used, reading)
    head = _affix_rules(head, reading, quoted, used)
    _named_rules(head, reading)
    reading.literals.extend(text for i, text in enumerate(quoted) if i not in used)
    reading.literals = [lit for lit in dict.fromkeys(x.strip() for x in reading.literals) if lit]
    symbol_literals = [lit for lit in reading.literals if not any(c.isalnum() for c in lit)]
    for lit in symbol_literals:
        reading.rules.append(Rule("symbol", f"'{lit}'", _has_symbol(lit)))
    reading.literals = [lit for lit in reading.literals if lit not in symbol_literals]
    reading.rest = re.sub(r"qq[a-z]{2}qq", " ", head).strip()
    return reading


def _position_rules(head: str, quoted: list[str], used: set[int], reading: Reading) -> str:
    """Rules about the neighbouring token ("after 'of'", "before a comma") and enclosing marks."""
    for pair in _BETWEEN_MARKS.finditer(head):
        a, b = (_unquote(g, quoted) for g in pair.groups())
        if a and b and not any(c.isalnum() for c in a + b):
            reading.rules.append(Rule("context", f"between {a} and {b}", _inside_marks(a, b)))
            head = head.replace(pair.group(0), " ")
    inside = _INSIDE.search(head)
    if inside:
        what = (inside.group(1) or inside.group(0)).lower()
        if any(w in what for w in ("quot", "speech", "dialogue", "comma")):
            reading.rules.append(Rule("context", "inside quotation marks", _tok(lambda t: t.in_quotes)))
        else:
            reading.rules.append(Rule("context", "inside brackets", _tok(lambda t: t.in_parens)))
        head = head[: inside.start()] + " " + head[inside.end():]
    for pattern, offset, word in ((_AFTER, -1, "after"), (_BEFORE, 1, "before")):
        m = pattern.search(head)
        if m is None:
            continue
        target = re.split(r",|;|\.(?!\w)|\bas in\b|\bin\b|\bwhich\b|\bthat\b", head[m.end():])[0]
        target_rules = _target_rules(target, quoted, used)
        if target_rules:
            label = f"{word} " + " or ".join(r.label for r in target_rules)
            reading.rules.append(Rule("position", label, _neighbour(target_rules, offset)))
            head = head[: m.start()] + " " + head[m.end() + len(target):]
    return head


def _target_rules(target: str, quoted: list[str], used: set[int]) -> list[Rule]:
    """What a neighbouring token must be: a quoted or named word, a symbol, or a class."""
    words = target.split()
    if not words:
        return []
    alternatives = [i for i, _ in enumerate(quoted) if _placeholder(i) in words[:8]]
    if alternatives:
        used.update(alternatives)
        return [Rule("literal", f"'{quoted[i]}'", literal_check(quoted[i])) for i in alternatives]
    sub = Reading()
    _named_rules(" " + target + " ", sub)
    if sub.rules:
        return sub.rules
    stop = {"a", "an", "the", "word", "words", "token", "tokens", "pronoun", "title", "name", "verb", "article"}
    content = [w for w in words if w not in stop] or words[-1:]
    if words[0] in {"the", "a", "an"} and len(words) == 1:
        content = words
    lit = content[0].strip(".,;:!?\"'")
    return [Rule("literal", f"'{lit}'", literal_check(lit))] if lit else []


def _unquote(fragment: str, quoted: list[str]) -> str:
    for i, q in enumerate(quoted):
        if _placeholder(i) == fragment:
            return q
    return fragment


def _inside_marks(open_mark: str, close_mark: str) -> Check:
    if open_mark in "([" or close_mark in ")]":
        return _tok(lambda t: t.in_parens)
    return _tok(lambda t: t.in_quotes)


def _affix_rules(head: str, reading: Reading, quoted: list[str], used: set[int]) -> str:
    """Suffix and prefix rules ("words ending in -ing", 'the suffix "ness"', "the prefix un-")."""
    for kind, patterns in (("suffix", _SUFFIX), ("prefix", _PREFIX)):
        found: list[str] = []
        for pattern in patterns:
            for m in pattern.finditer(head):
                affixes = [a.strip(" -") for a in m.group(1).split("/")]
                for i, q in enumerate(quoted):
                    if affixes == [_placeholder(i)]:
                        affixes = [q.strip(" -").lower()] if q.strip(" -").isalpha() else []
                        used.add(i)
                affixes = [a for a in affixes if a and a not in _NOT_AFFIX and not re.fullmatch(r"qq[a-z]{2}qq", a)]
                if not affixes:
                    continue
                found.extend(affixes)
                head = head.replace(m.group(0), " " * len(m.group(0)), 1)
        # "ending in tion/sion" or "-tion or -sion": the alternatives after the first one
        for affix in dict.fromkeys(found):
            if kind == "suffix":
                reading.rules.append(Rule("morphology", f"ends in -{affix}", _suffix_check(affix)))
            else:
                reading.rules.append(Rule("morphology", f"starts with {affix}-", _prefix_check(affix)))
    return head


def _suffix_check(affix: str) -> Check:
    return _word_rule(lambda w: w.endswith(affix) and len(w) > len(affix) + 1)


def _prefix_check(affix: str) -> Check:
    return _tok(lambda t: t.first_piece and t.word.startswith(affix) and len(t.word) > len(affix) + 1)


def _named_rules(head: str, reading: Reading) -> None:
    """Rules named by a phrase (see _NAMED), negated after "not", "except", "other than"."""
    spans: list[tuple[int, Rule]] = []
    for regex, kind, label, check in _NAMED_RE:
        for m in regex.finditer(head):
            spans.append((m.start(), Rule(kind, label, check)))
            head = head[: m.start()] + " " * (m.end() - m.start()) + head[m.end():]
    negators = [m.end() for m in _NEGATORS.finditer(head)]
    clause_breaks = [m.start() for m in re.finditer(r"[,;]|\bbut\b(?! not)", head)]
    for start, rule in sorted(spans, key=lambda s: s[0]):
        neg = any(n <= start and not any(n <= b < start for b in clause_breaks) for n in negators)
        if neg and rule.label != "not at a sentence start":
            rule = Rule(rule.kind, rule.label, rule.check, negated=True)
        reading.rules.append(rule)
