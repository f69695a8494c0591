"""Planted features: rules over real tokens with a known true explanation, to measure scorers.

Each rule marks tokens of real text (e.g. colour words); the value on a marked token is graded by the
token itself (some words fire more than others, as real features do) plus a little seeded noise. A
scorer that works must rank each feature's true explanation above the other features' explanations.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from featurepedia.interp.planted_rules import (
    Rule,
    after,
    after_word,
    all_caps,
    before,
    code_identifier,
    contains,
    each,
    in_list,
    inside,
    is_year,
    mid_sentence_capital,
    numbers,
    path_part,
    plural_nouns,
    prefix,
    sentence_initial,
    suffix,
    word,
)
from featurepedia.interp.records import ActivationRecord


@dataclass(frozen=True)
class PlantedFeature:
    """A rule over tokens and the explanations a person would write for it (two or three wordings).

    Attributes:
        kind: what the rule is about (morphology, casing, digits, punctuation, code, function words,
            topic, position), so figures can be broken down by kind.
    """

    name: str
    kind: str
    explanations: tuple[str, ...]
    rule: Rule

    @property
    def explanation(self) -> str:
        """The first wording: the one other features are scored against."""
        return self.explanations[0]

    @property
    def part(self) -> str:
        """``dev`` or ``heldout``, fixed by a hash of the name (see :func:`part_of`)."""
        return part_of(self.name)


def part_of(name: str) -> str:
    """The part of the planted set a feature belongs to: ``heldout`` when the SHA-256 of
    ``"planted-part:" + name`` is odd, else ``dev``. Methods and settings are chosen on ``dev`` only."""
    digest = hashlib.sha256(f"planted-part:{name}".encode()).digest()
    return "heldout" if digest[-1] % 2 else "dev"


ANIMALS = {"dog", "cat", "horse", "bird", "fish", "cow", "sheep", "pig", "mouse", "mice", "rat", "lion", "tiger",
           "bear", "wolf", "fox", "rabbit", "duck", "goose", "chicken", "hen", "snake", "frog", "monkey", "elephant",
           "deer", "whale", "shark", "eagle", "owl", "bee", "ant", "spider", "donkey", "goat", "puppy", "kitten",
           "camel", "dolphin", "insect", "animal", "creature", "beast"}
COLOURS = {"red", "blue", "green", "yellow", "white", "black", "brown", "pink", "purple", "orange", "grey", "gray",
           "golden", "silver", "scarlet", "crimson"}
FAMILY = {"mother", "father", "sister", "brother", "son", "daughter", "wife", "husband", "aunt", "uncle", "cousin",
          "niece", "nephew", "mama", "papa", "mom", "dad", "grandmother", "grandfather", "parent", "child",
          "children"}
NEGATION = {"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "n't", "cannot", "without"}
FIRST_PERSON = {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"}
THIRD_PERSON = {"he", "she", "they", "him", "her", "them", "his", "hers", "their", "theirs", "himself", "herself",
                "themselves"}
ARTICLES = {"a", "an", "the"}
MODALS = {"can", "could", "may", "might", "must", "shall", "should", "will", "would"}
BE_FORMS = {"is", "are", "was", "were", "be", "been", "being", "am"}
CONJUNCTIONS = {"and", "or", "but", "nor", "yet", "so"}
PREPOSITIONS = {"in", "on", "at", "of", "to", "for", "with", "from", "by", "about", "into", "over", "under",
                "between", "through", "after", "before", "during", "without", "against", "among", "upon"}
WH_WORDS = {"who", "what", "where", "when", "why", "how", "which", "whom", "whose"}
NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "dozen"}
BODY = {"hand", "head", "eye", "face", "heart", "arm", "leg", "foot", "feet", "finger", "mouth", "lip", "ear",
        "nose", "hair", "shoulder", "knee", "skin", "blood", "bone", "neck", "tooth", "teeth", "body"}
FOOD = {"bread", "meat", "cheese", "wine", "beer", "tea", "coffee", "milk", "sugar", "fruit", "apple", "egg",
        "butter", "soup", "cake", "dinner", "breakfast", "lunch", "food", "meal", "salt", "rice", "potato"}
TIME_WORDS = {"day", "night", "morning", "evening", "week", "month", "year", "hour", "minute", "today",
              "tomorrow", "yesterday", "afternoon", "season", "century", "moment"}
FEELINGS = {"happy", "sad", "angry", "afraid", "fear", "love", "joy", "anger", "sorrow", "pleasure", "grief",
            "delight", "anxious", "glad", "unhappy", "happiness", "hate", "lonely", "ashamed", "proud"}
COMPUTING = {"computer", "software", "program", "programs", "file", "files", "system", "systems", "data", "code",
             "network", "unix", "memory", "hacker", "hackers", "machine", "user", "users", "internet", "disk"}
WAR = {"war", "army", "soldier", "battle", "military", "troops", "weapon", "enemy", "attack", "navy", "fight",
       "forces", "general", "officer", "killed", "invasion"}
RELIGION = {"god", "church", "lord", "religion", "religious", "christian", "bible", "heaven", "faith", "pray",
            "prayer", "holy", "jesus", "priest", "sin", "soul", "spirit"}
MONEY = {"money", "pay", "paid", "price", "cost", "pound", "dollar", "bank", "rich", "poor", "fortune", "income",
         "wealth", "tax", "sell", "sold", "buy", "bought", "market"}
PY_KEYWORDS = {"def", "return", "import", "class", "if", "else", "elif", "for", "while", "none", "true", "false",
               "lambda", "yield", "try", "except", "self", "print", "from", "in", "is", "not", "with"}


def _py_keyword(tokens: list[str]) -> list[bool]:
    """Python keywords in lines that look like code (an indent, a colon or brackets nearby)."""
    text_lines = "".join(tokens).split("\n")
    codeish = {i for i, line in enumerate(text_lines) if re.search(r"[()=:\[\]]|^\s{2,}|>>>", line)}
    out, line = [], 0
    for tok in tokens:
        out.append(line in codeish and word(tok) in PY_KEYWORDS and tok.strip().islower())
        line += tok.count("\n")
    return out


def _after_title(tokens: list[str]) -> list[bool]:
    """The word after Mr, Mrs, Miss or Dr (with or without a full stop between)."""
    out = []
    for i, tok in enumerate(tokens):
        j = i - 1
        if j >= 0 and tokens[j].strip() == ".":
            j -= 1
        out.append(j >= 0 and j < i and word(tokens[j]) in {"mr", "mrs", "miss", "dr"} and word(tok).isalpha())
    return out


P = PlantedFeature
PLANTED_FEATURES: tuple[PlantedFeature, ...] = (
    # morphology
    P("suffix-ing", "morphology", ("words ending in -ing", 'tokens with the suffix "ing", such as running or making',
                                   "the -ing form of verbs (gerunds and present participles)"), suffix("ing")),
    P("suffix-ed", "morphology", ("words ending in -ed", 'past-tense forms ending with "ed", like walked',
                                  "tokens whose last letters are e-d"), suffix("ed")),
    P("suffix-ly", "morphology", ("adverbs ending in -ly, such as quickly or really",
                                  'words that end with "ly"'), suffix("ly")),
    P("suffix-tion", "morphology", ("nouns ending in -tion or -sion", 'words with the suffix "tion", like nation',
                                    "tokens ending in tion/sion"), each(lambda t: word(t).isalpha()
                                                                        and word(t).endswith(("tion", "sion")))),
    P("suffix-ment", "morphology", ("words ending in -ment", 'nouns with the suffix "ment", such as government'),
      suffix("ment")),
    P("suffix-able", "morphology", ("adjectives ending in -able or -ible", 'words ending with "able"'),
      each(lambda t: word(t).isalpha() and word(t).endswith(("able", "ible")) and len(word(t)) >= 6)),
    P("prefix-un", "morphology", ('words beginning with "un"', "words that start with the letters u-n, like unknown"),
      prefix("un", 5)),
    P("prefix-re", "morphology", ('words starting with the letters "re"', "words that begin with re-"),
      prefix("re", 4)),
    P("plurals", "morphology", ("plural nouns ending in s, like houses or books",
                                "nouns in the plural (more than one thing)"), plural_nouns),
    P("suffix-est", "morphology", ("superlatives ending in -est", 'words that end in "est", like greatest'),
      suffix("est", 5)),
    # casing
    P("all-caps", "casing", ("words in all capital letters, like UNIX or IBM", "acronyms and uppercase words",
                             "tokens written entirely in upper case"), all_caps),
    P("capitalised", "casing", ("capitalised names of people and places in the middle of a sentence",
                                "words starting with a capital letter that are not at the start of a sentence",
                                "proper nouns written with an initial capital"), mid_sentence_capital),
    P("sentence-start", "casing", ("the first word of a sentence", "capitalised words at the start of a sentence"),
      sentence_initial),
    # digits and years
    P("numbers", "digits", ("numbers written with digits, like 3, 42 or 250", "digits that are not years",
                            "numerals"), numbers(lambda d: not is_year(d))),
    P("years", "digits", ("years written as numbers, like 1999 or 1850", "four-digit years", "dates: the year"),
      numbers(is_year)),
    P("number-words", "digits", ("numbers written as words, like two or hundred",
                                 "spelled-out numbers such as one, ten, thousand"), in_list(NUMBER_WORDS)),
    P("single-digit", "digits", ("single-digit numbers (0-9 on their own)", "a number with only one digit"),
      numbers(lambda d: len(d) == 1)),
    # punctuation and brackets
    P("commas", "punctuation", ("commas", 'the comma ","', "comma punctuation between clauses"),
      contains(",")),
    P("full-stops", "punctuation", ("full stops at the end of sentences", "periods (the . character)"),
      each(lambda t: t.strip() in {".", '."', ".)", ".”", ".'"})),
    P("colons", "punctuation", ("colons and semicolons", 'the punctuation marks ":" and ";"'), contains(":;")),
    P("questions", "punctuation", ("question marks at the end of questions", 'the "?" character'),
      contains("?")),
    P("exclamations", "punctuation", ("exclamation marks", 'the "!" punctuation mark'), contains("!")),
    P("hyphens", "punctuation", ("hyphens and dashes", 'the dash character "-" or "--"',
                                 "dashes between words"), contains("-—–")),
    P("apostrophe-s", "punctuation", ("possessive 's", "the apostrophe s after a name, as in John's",
                                      "the 's ending"), each(lambda t: t.strip().lower() in {"'s", "’s"})),
    P("brackets", "punctuation", ("opening and closing brackets and parentheses", 'the characters "(", ")", "[" and "]"'),
      contains("()[]")),
    P("in-parentheses", "punctuation", ("words inside parentheses", "text within round brackets",
                                        "the words between ( and )"), inside("(", ")")),
    P("quotes", "punctuation", ("words inside quotation marks (quoted speech)", "text between double quotes",
                                "what someone says, within quotes"), inside("“", "”", '"')),
    # code and paths
    P("identifiers", "code", ("underscores in code names, like __init__ or snake_case",
                              "programming identifiers with _ in them"),
      each(code_identifier)),
    P("paths", "code", ("file paths and URLs with slashes", "parts of a path like /usr/bin or http://",
                        "web addresses and directory paths"), path_part),
    P("python-keywords", "code", ("Python keywords in code, like def, return and import",
                                  "reserved words of a programming language in source code"), _py_keyword),
    P("newlines", "code", ("line breaks", "newline characters", "the end of a line"),
      each(lambda t: "\n" in t)),
    P("equals", "code", ('the equals sign "="', "assignment with = in code"), contains("=")),
    # function-word classes
    P("negation", "function-words", ("negation words like not, no and never", "words that negate: not, never, nothing",
                                     "negatives"), in_list(NEGATION, plural_s=False)),
    P("first-person", "function-words", ("first-person pronouns: I, me, my, we",
                                         "words the speaker uses for themselves, like I and our"),
      in_list(FIRST_PERSON, plural_s=False)),
    P("third-person", "function-words", ("third-person pronouns such as he, she, they and them",
                                         "pronouns for other people: him, her, their"),
      in_list(THIRD_PERSON, plural_s=False)),
    P("articles", "function-words", ("articles: a, an and the", "the definite and indefinite article"),
      in_list(ARTICLES, plural_s=False)),
    P("modals", "function-words", ("modal verbs like can, could, would and should",
                                   "auxiliary verbs of possibility or obligation (may, might, must)"),
      in_list(MODALS, plural_s=False)),
    P("be-verbs", "function-words", ("forms of the verb to be: is, was, are, were",
                                     'the verb "be" in any tense'), in_list(BE_FORMS, plural_s=False)),
    P("conjunctions", "function-words", ("conjunctions such as and, or and but", "coordinating conjunctions"),
      in_list(CONJUNCTIONS, plural_s=False)),
    P("prepositions", "function-words", ("prepositions like in, on, at, of and with",
                                         "words that introduce a prepositional phrase"),
      in_list(PREPOSITIONS, plural_s=False)),
    P("wh-words", "function-words", ("question words: who, what, where, when, why and how", "wh-words"),
      in_list(WH_WORDS, plural_s=False)),
    # topics
    P("animals", "topic", ("animals, such as dog, horse, bird or fish", "names of animals", "creatures and beasts"),
      in_list(ANIMALS)),
    P("colours", "topic", ("colour words like red, blue, green and white", "names of colours"),
      in_list(COLOURS, plural_s=False)),
    P("family", "topic", ("family members: mother, father, sister, brother, wife", "relatives and kin",
                          "words for parents, children and spouses"), in_list(FAMILY)),
    P("body", "topic", ("parts of the body, like hand, head and eyes", "body parts", "anatomy words"), in_list(BODY)),
    P("food", "topic", ("food and drink, such as bread, wine and tea", "things people eat or drink", "meals"),
      in_list(FOOD)),
    P("time", "topic", ("words for periods of time: day, night, week, year", "units and times of day"),
      in_list(TIME_WORDS)),
    P("feelings", "topic", ("emotions and feelings, like happy, sad or afraid", "words for moods"),
      in_list(FEELINGS, plural_s=False)),
    P("computing", "topic", ("computers and software: program, file, system, data", "words about computing",
                             "technology and computer jargon"), in_list(COMPUTING, plural_s=False)),
    P("war", "topic", ("war and the military: army, soldier, battle", "fighting and warfare"), in_list(WAR)),
    P("religion", "topic", ("religion: God, church, prayer and heaven", "religious words"), in_list(RELIGION)),
    P("money", "topic", ("money and trade: price, pay, bank, rich", "words about wealth and buying"),
      in_list(MONEY, plural_s=False)),
    # position
    P("after-of", "position", ('the word right after "of"', 'the token following the word "of"',
                               'words preceded by "of"'), after_word("of")),
    P("after-the", "position", ('the word after "the"', 'nouns and adjectives that follow "the"'),
      after_word("the")),
    P("after-to", "position", ('the word after "to"', 'verbs following "to", as in to go'), after_word("to")),
    P("after-comma", "position", ("the word right after a comma", "the first token following a comma"),
      after(lambda t: t.strip().endswith(","))),
    P("after-i", "position", ('the word after "I"', 'verbs that follow the pronoun "I"'), after_word("i")),
    P("after-mr", "position", ('the name after "Mr" or "Mrs"', 'the word following the title Mr.'),
      _after_title),
    P("before-comma", "position", ("the word just before a comma", "words followed by a comma"),
      before(lambda t: t.startswith(","))),
    P("after-very", "position", ('the word after "very"', 'adjectives and adverbs intensified by "very"'),
      after_word("very")),
)


def planted_values(feature: PlantedFeature, tokens: list[str], seed: int = 0) -> list[float]:
    """The feature's activation on each token: 0 off the rule, a graded value in (0.3, 1.0] on it."""
    rng = random.Random(f"{seed}:{feature.name}:{''.join(tokens)}")
    values = []
    for tok, hit in zip(tokens, feature.rule(tokens), strict=True):
        if not hit or tok.startswith("<|"):  # special tokens (end of text) never fire
            values.append(0.0)
            continue
        # Graded by token type (stable across texts) with a little per-occurrence noise.
        grade = int(hashlib.sha256(f"{feature.name}:{word(tok)}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        values.append(round(min(1.0, 0.35 + 0.55 * grade + 0.1 * rng.random()), 4))
    return values


def planted_records(
    feature: PlantedFeature, token_lists: Sequence[list[str]], n_top: int = 20, n_quantile: int = 10,
    n_non_activating: int = 20, seed: int = 0,
) -> tuple[list[ActivationRecord], list[ActivationRecord], list[ActivationRecord]]:
    """Top (most active first), quantile (other activating) and non-activating records of a feature.

    Args:
        token_lists: texts as display-token lists (e.g. corpus contexts without BOS).
    Returns:
        (top, quantile, non_activating); fewer records when the texts hold fewer.
    """
    active: list[ActivationRecord] = []
    inactive: list[ActivationRecord] = []
    for tokens in token_lists:
        record = ActivationRecord(list(tokens), planted_values(feature, list(tokens), seed))
        (active if record.is_activating else inactive).append(record)
    rng = random.Random(f"{seed}:{feature.name}")
    rng.shuffle(active)
    rng.shuffle(inactive)
    pool = active[: 4 * (n_top + n_quantile)]
    pool.sort(key=lambda r: -r.max_value)
    top = pool[:n_top]
    quantile = rng.sample(pool[n_top:], min(n_quantile, len(pool) - n_top)) if len(pool) > n_top else []
    return top, quantile, inactive[:n_non_activating]
