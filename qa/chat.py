"""Conversation: resolve a follow-up question against the conversation (pure: no retrieval here).

A follow-up such as "What did they discuss?" says nothing on its own about *who*. Before
retrieval it is rewritten into a standalone search query:

    follow-up  +  " ("  +  the question that set the topic  +  names from the last answer  +  ")"

e.g. after "Who met in Paris?" answered with "Syrian Foreign Minister Assaad al-Shaibani and
Israeli minister Ron Dermer met in Paris ...", the query becomes
"What did they discuss? (Who met in Paris? Syrian Foreign Minister Assaad al-Shaibani Israeli
Ron Dermer Paris August 2025 ...)".

The rewrite is deterministic, needs no language model and is shown to the user (the API
returns ``query`` and ``rewritten``). It applies only to a question that refers back
(a pronoun such as *they*/*it*/*there*, an opener such as "and"/"what about", or no content
word at all, like "Why?"); any other question is taken as a new topic and searched as asked.
Pronouns and openers are listed per language (``REFERRING``, ``OPENERS``: "Und wann öffnet es?",
"¿Y cuánto cuesta?", "它是什么时候开放的？", "那德国呢？"), read in the language of the question
(``qa.langid.conversation_language``); articles are left out, since every question has one. A
language without lists is read with English's.
Retrieval uses the rewritten query, so the right documents come back; the answer sentence is
then chosen against the user's own words, so "Did they sign an agreement?" is answered by the
sentence about an agreement, not by a repeat of the previous answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qa.errors import InvalidInput, TooLarge
from qa.terms import terms

Role = Literal["system", "user", "assistant"]

# Words that point back at something said earlier in the conversation: pronouns, demonstratives,
# "there", "then", "also", "other", per language (a ``QA_LANGUAGE`` code). Never an article or a
# word most questions hold ("es" of German's "gibt es", French "ce" of "qu'est-ce que").
REFERRING: dict[str, frozenset[str]] = {
    code: frozenset(words.split())
    for code, words in {
        "en": "they them their theirs themselves it its itself he him his she her hers this that these those "
        "there then such same also too else further more another other others former latter",
        "de": "er sie ihm ihn ihr ihre ihrer ihren ihrem sein seine seiner seinen seinem dessen deren dort damals "
        "dies diese dieser dieses diesem diesen jene jener jenes dasselbe derselbe dieselbe auch sonst weitere "
        "weiteren andere anderen",
        "es": "él ella ellos ellas le les su sus suyo suya eso esto esa ese esos esas este esta estos estas "
        "aquel aquella aquello allí allá entonces también otro otra otros otras mismo misma",
        "fr": "il elle ils elles lui leur leurs son sa ses celui celle ceux celles cela ça ceci cet cette ces "
        "là alors aussi autre autres même mêmes",
        "it": "lui lei loro esso essa essi esse suo sua suoi sue questo questa questi queste quello quella "
        "quelli quelle lì là allora anche altro altra altri altre stesso stessa",
        "pt": "ele ela eles elas dele dela deles delas seu sua seus suas isso isto esse essa esses essas este "
        "esta estes estas aquele aquela aquilo lá ali então também outro outra outros outras mesmo mesma",
        "nl": "hij zij ze hem haar hun hen zijn dit deze daar toen ook ander andere zelfde",
        "ru": "он она оно они его её ее их ему ей им нему ней них этот эта это эти этого этой этом этих тот "
        "та те того той том там тогда также тоже другой другая другие такой такая такие",
        # Not هو/هي: "ما هي" is "what is".
        "ar": "هم هن هما ذلك تلك هذا هذه هؤلاء أولئك هناك حينها أيضا أيضًا آخر أخرى",
        "hi": "वह वे यह ये उसका उसकी उसके उनका उनकी उनके इसका इसकी इसके इनका उसे उन्हें इसे इन्हें वहाँ वहां तब भी दूसरा दूसरी दूसरे",
    }.items()
}
# Scripts written without spaces: pieces of a question that point back.
REFERRING_PIECES: dict[str, tuple[str, ...]] = {
    "zh": ("它", "他", "她", "这个", "那个", "这些", "那些", "此", "那里", "那时", "另外", "同样"),
    "ja": ("それ", "これ", "あれ", "彼", "その", "この", "あの", "そこ", "同じ"),
}
# Openers of an elliptical follow-up ("And in 2024?", "What about Sweida?", "Und in Köln?",
# "那德国呢？"), per language.
OPENERS: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern, re.IGNORECASE)
    for code, pattern in {
        "en": r"^\s*(?:and|but|so|also|what about|how about|what else)\b",
        "de": r"^\s*(?:und|aber|also|auch|was ist mit|wie steht es mit|was noch)\b",
        "es": r"^\s*¿?\s*(?:y|pero|entonces|también|qué hay de|qué pasa con|y qué)\b",
        "fr": r"^\s*(?:et|mais|alors|aussi|qu'en est-il|et pour)\b",
        "it": r"^\s*(?:e|ma|quindi|anche|e per|e invece|che dire di)\b",
        "pt": r"^\s*(?:e|mas|então|também|e quanto|e sobre)\b",
        "nl": r"^\s*(?:en|maar|dus|ook|wat met|hoe zit het met)\b",
        "ru": r"^\s*(?:и|а|но|также|а что|а как насчёт|а как насчет)(?!\w)",
        "ar": r"^\s*(?:وماذا|ماذا عن|وأيضا|ولكن)",
        "hi": r"^\s*(?:और|लेकिन|तो)\s",
        # "那德国呢？": an opener, or the particle 呢 that ends an elliptical question.
        "zh": r"^\s*(?:那么|那|还有|另外|而)|呢\s*[？?]?\s*$",
        "ja": r"^\s*(?:では|じゃあ|それで|また)|は[？?]\s*$",
    }.items()
}
_WORD = re.compile(r"\w[\w'’.-]*\w|\w", re.UNICODE)
_JOINED = re.compile(r"[-'’]")
_MARKER = re.compile(r"\s*\[\d+\]")
# The OpenAI-compatible endpoint appends a sources list after the answer; it is not the answer.
SOURCES_HEADING = "\n\nSources:\n"
MAX_CONTEXT_CHARS = 300
MAX_NAMES = 20


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Resolved:
    """The user's last question and the standalone query used to retrieve for it."""

    question: str
    query: str
    rewritten: bool


def is_follow_up(question: str, language: str = "en") -> bool:
    """True when the question refers back to the conversation instead of standing alone, read in
    ``language`` (the question's; English's lists for a language without its own)."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return False
    words += [part for w in words if _JOINED.search(w) for part in _JOINED.split(w)]  # "coûte-t-elle", "it's"
    code = language if language in OPENERS else "en"
    pieces = REFERRING_PIECES.get(code, ())
    return (
        bool(REFERRING.get(code, frozenset()).intersection(words))
        or any(piece in question for piece in pieces)
        or bool(OPENERS[code].search(question))
        or not terms(question)
    )


def answer_text(content: str) -> str:
    """An assistant message without its citation markers and sources list."""
    return _MARKER.sub("", content.split(SOURCES_HEADING, 1)[0]).strip()


def names(text: str) -> list[str]:
    """Capitalized words and numbers of a text, in order, once each: the people, places and
    dates an answer is about, which is what a follow-up's pronoun points at."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text):
        if any(ch.isupper() or ch.isdigit() for ch in w) and terms(w):
            seen.setdefault(w, None)
    return list(seen)[:MAX_NAMES]


def resolve(turns: Sequence[Turn], max_chars: int, language: str = "en") -> Resolved:
    """Resolve the last user turn against the turns before it, its words read in ``language``
    (the conversation's: ``is_follow_up``).

    Raises:
        InvalidInput: no turns, the last turn is not the user's, or the question is blank.
        TooLarge: the question is longer than ``max_chars``.
    """
    if not turns:
        raise InvalidInput("messages is empty: send at least one message with role 'user'")
    if turns[-1].role != "user":
        raise InvalidInput(f"the last message must be the user's question (role 'user'), not role {turns[-1].role!r}")
    question = turns[-1].content.strip()
    if not question:
        raise InvalidInput("the last user message is empty: send a non-blank question")
    if len(question) > max_chars:
        raise TooLarge(f"question is {len(question)} characters, over the limit of {max_chars} (QA_MAX_QUESTION_CHARS)")
    topic: str | None = None  # the last question that stood on its own
    last_answer = ""
    for turn in turns[:-1]:
        content = turn.content.strip()
        if turn.role == "user" and content:
            if topic is None or not is_follow_up(content, language):
                topic = content
            last_answer = ""
        elif turn.role == "assistant":
            last_answer = answer_text(content)
    if topic is None or not is_follow_up(question, language):
        return Resolved(question, question, rewritten=False)
    context = " ".join([topic, *names(last_answer)])
    room = min(MAX_CONTEXT_CHARS, max_chars - len(question) - 3)
    if room < 10:
        return Resolved(question, question, rewritten=False)
    if len(context) > room:
        context = context[:room].rsplit(" ", 1)[0]
    return Resolved(question, f"{question} ({context})", rewritten=True)
