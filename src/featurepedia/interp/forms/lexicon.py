"""English closed word classes and the names of symbols: what an explanation can name by a word.

Closed classes (pronouns, prepositions, modal verbs ...) are where sentence embeddings are weakest ("modal
verbs" and "could" are not close in meaning-space), and their members are few and fixed, so they are listed
here from ordinary grammar; open classes (animals, feelings) are left to the embedding model.
"""

from __future__ import annotations


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIRST_PERSON = _w("i me my mine myself we us our ours ourselves i'm i've i'll i'd 'm")
SECOND_PERSON = _w("you your yours yourself yourselves thou thee thy thine ye")
THIRD_PERSON = _w("he him his himself she her hers herself it its itself they them their theirs themselves")
PERSONAL = FIRST_PERSON | SECOND_PERSON | THIRD_PERSON
POSSESSIVE = _w("my mine your yours his her hers its our ours their theirs thy thine whose")
REFLEXIVE = _w("myself yourself himself herself itself ourselves yourselves themselves oneself")
DEMONSTRATIVE = _w("this that these those")
RELATIVE = _w("who whom whose which that")
WH_WORDS = _w("who whom whose what which where when why how whoever whatever wherever whenever")
ARTICLES = _w("a an the")
DETERMINERS = ARTICLES | DEMONSTRATIVE | POSSESSIVE | _w("some any each every no all both either neither "
                                                          "much many few several another other such")
QUANTIFIERS = _w("all some many much few several each every any most more less least fewer both enough "
                 "none lot lots plenty")
PREPOSITIONS = _w("about above across after against along amid among around as at before behind below beneath "
                  "beside besides between beyond by despite down during except for from in inside into like near "
                  "of off on onto out outside over past per since through throughout till to toward towards "
                  "under underneath until unto up upon via with within without")
COORDINATING = _w("and or but nor yet so for")
SUBORDINATING = _w("because although though while whereas if unless since until when whenever whether once "
                   "than that after before as lest")
CONJUNCTIONS = COORDINATING | SUBORDINATING
MODALS = _w("can could may might must shall should will would ought 'll 'd")
BE = _w("be am is are was were been being 's 're 'm isn't aren't wasn't weren't")
HAVE = _w("have has had having 've 'd hasn't haven't hadn't")
DO = _w("do does did doing done don't doesn't didn't")
AUXILIARIES = BE | HAVE | DO | MODALS
NEGATION = _w("not no never nothing nobody none neither nor nowhere n't cannot without hardly scarcely "
              "don't doesn't didn't isn't aren't wasn't weren't won't can't couldn't shouldn't wouldn't")
NUMBER_WORDS = _w("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                  "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
                  "hundred thousand million billion dozen half")
ORDINALS = _w("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth twentieth "
              "hundredth last")
MONTHS = _w("january february march april may june july august september october november december "
            "jan feb mar apr jun jul aug sep sept oct nov dec")
WEEKDAYS = _w("monday tuesday wednesday thursday friday saturday sunday")
TITLES = _w("mr mrs ms miss dr sir madam lady lord mister professor prof captain colonel st")
INTENSIFIERS = _w("very really quite so too extremely rather fairly pretty highly most more absolutely "
                  "completely totally utterly")
KEYWORDS = _w("def return import from class if else elif for while in is not and or none true false lambda "
              "yield try except finally raise with as pass break continue global nonlocal assert del async "
              "await self print int str float bool dict list void char struct const static public private "
              "new null function var let switch case")
FUNCTION_WORDS = (PERSONAL | DETERMINERS | PREPOSITIONS | CONJUNCTIONS | AUXILIARIES | WH_WORDS | NEGATION
                  | REFLEXIVE | _w("there here then also just only even"))

# A symbol's names, most specific first (matched as whole words in an explanation).
SYMBOLS: tuple[tuple[str, str], ...] = (
    (r"question marks?", "?"),
    (r"exclamation (?:marks?|points?)|exclamations", "!"),
    (r"semi-?colons?", ";"),
    (r"colons?", ":"),
    (r"commas?", ","),
    (r"full[- ]stops?|periods?(?! of)|dots?(?! product)|decimal points?", "."),
    (r"ellips[ie]s|three dots", "…"),
    (r"hyphens?|hyphenation|hyphenated", "-"),
    (r"dash(?:es)?|em[- ]dash(?:es)?|en[- ]dash(?:es)?", "-—–"),
    (r"apostrophes?", "'’"),
    (r"(?:double )?quotation marks?|quote marks?|(?:double |single )?quotes|inverted commas", "\"“”'‘’"),
    (r"(?:round )?brackets|parenthes[ie]s|parens|bracket", "()[]{}"),
    (r"square brackets?", "[]"),
    (r"(?:curly )?braces", "{}"),
    (r"angle brackets?|chevrons?", "<>"),
    (r"opening (?:brackets?|parenthes[ie]s)", "([{"),
    (r"closing (?:brackets?|parenthes[ie]s)", ")]}"),
    (r"back-?slash(?:es)?", "\\"),
    (r"(?:forward )?slash(?:es)?|solidus", "/"),
    (r"asterisks?", "*"),
    (r"ampersands?", "&"),
    (r"hash(?: signs?| marks?)?|hashtags?|pound signs?|number signs?|octothorpes?", "#"),
    (r"at[- ]signs?", "@"),
    (r"percent(?:age)? signs?|per ?cent signs?", "%"),
    (r"dollar signs?|currency (?:signs?|symbols?)", "$£€¥"),
    (r"underscores?", "_"),
    (r"equals? signs?|equals|equal signs?", "="),
    (r"plus signs?|pluses", "+"),
    (r"minus signs?", "-−"),
    (r"pipes?|vertical bars?", "|"),
    (r"tildes?", "~"),
    (r"carets?", "^"),
    (r"backticks?|backquotes?", "`"),
)
