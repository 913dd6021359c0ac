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

# Words that point back at something said earlier in the conversation.
REFERRING = frozenset(
    "they them their theirs themselves it its itself he him his she her hers this that these those "
    "there then such same also too else further more another other others former latter".split()
)
# Openers of an elliptical follow-up ("And in 2024?", "What about Sweida?").
_OPENER = re.compile(r"^\s*(?:and|but|so|also|what about|how about|what else)\b", re.IGNORECASE)
_WORD = re.compile(r"\w[\w'’.-]*\w|\w", re.UNICODE)
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


def is_follow_up(question: str) -> bool:
    """True when the question refers back to the conversation instead of standing alone."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return False
    return bool(REFERRING.intersection(words)) or bool(_OPENER.match(question)) or not terms(question)


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


def resolve(turns: Sequence[Turn], max_chars: int) -> Resolved:
    """Resolve the last user turn against the turns before it.

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
            if topic is None or not is_follow_up(content):
                topic = content
            last_answer = ""
        elif turn.role == "assistant":
            last_answer = answer_text(content)
    if topic is None or not is_follow_up(question):
        return Resolved(question, question, rewritten=False)
    context = " ".join([topic, *names(last_answer)])
    room = min(MAX_CONTEXT_CHARS, max_chars - len(question) - 3)
    if room < 10:
        return Resolved(question, question, rewritten=False)
    if len(context) > room:
        context = context[:room].rsplit(" ", 1)[0]
    return Resolved(question, f"{question} ({context})", rewritten=True)
