"""Open WebUI's background task prompts, recognised and answered from the conversation and the index.

Open WebUI sends three prompts of its own to the chat model after an answer: a chat title, tags and
follow-up suggestions (its ``DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE``,
``DEFAULT_TAGS_GENERATION_PROMPT_TEMPLATE`` and ``DEFAULT_FOLLOW_UP_GENERATION_PROMPT_TEMPLATE``,
in ``backend/open_webui/config.py``). Each is one user message: a ``### Task:`` block that asks for
a JSON object (``{"title": ...}``, ``{"tags": [...]}``, ``{"follow_ups": [...]}``) and the chat
history between ``<chat_history>`` tags, one ``USER:`` / ``ASSISTANT:`` line per message. Answered
as a question they would give "not found"; answered here they get what Open WebUI parses:

- title: the first question's words without the leading question words ("Who met in Paris?" ->
  "Met in Paris"), at most five words;
- tags: the titles of the documents the answer to the conversation cites;
- follow-ups: "What about <phrase>?" for the headings of the passages found and the most
  specific phrases of sentences the answer did not cite (qa reads "What about ..." as a follow-up
  and searches it with the conversation's topic).

Pure logic: the caller answers the conversation (``QAService.chat``) and passes the ``Answer``.
A template an Open WebUI admin changed is recognised while it keeps the ``### Task:`` block, the
``<chat_history>`` tags and the JSON key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from qa.chat import Turn, answer_text
from qa.sentences import sentence_spans
from qa.terms import STOPWORDS
from qa.types import Answer

Kind = Literal["title", "tags", "follow_ups"]

_HISTORY = re.compile(r"<chat_history>\n?(.*?)\n?</chat_history>", re.DOTALL)
_LINE = re.compile(r"^(USER|ASSISTANT|SYSTEM):[ \t]?(.*)$")
_WORD = re.compile(r"[\w][\w'’.+#-]*[\w+#]|\w", re.UNICODE)
# The JSON key each task's template asks for, as it appears in the template's "### Output:" line.
_KEYS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("follow_ups", re.compile(r'"follow_ups"\s*:')),
    ("tags", re.compile(r'"tags"\s*:')),
    ("title", re.compile(r'"title"\s*:')),
)
# Words that start a question and say nothing about its subject.
QUESTION_WORDS = STOPWORDS | frozenset("tell explain describe please show give list us".split())
TITLE_WORDS = 5
MAX_TAGS = 3
MAX_FOLLOW_UPS = 5
PHRASE_WORDS = 3
# Words that end a phrase besides stop words: verbs and adverbs a follow-up is not about.
PHRASE_BREAKS = STOPWORDS | frozenset(
    "also along mentioned according including described reported said says work works worked used using uses made"
    " make makes become becomes first before after more most less very often other others same new".split()
)
MIN_SENTENCE_WORDS = 6
# The tag Open WebUI's template asks for when the chat says too little to categorise.
GENERAL = "General"


@dataclass(frozen=True)
class TaskPrompt:
    """An Open WebUI task prompt: which task, and the chat history it carries."""

    kind: Kind
    turns: tuple[Turn, ...]

    @property
    def question(self) -> str:
        """The conversation's first user message (what the chat is about), or ''."""
        return next((t.content for t in self.turns if t.role == "user" and t.content.strip()), "")

    @property
    def conversation(self) -> tuple[Turn, ...]:
        """The history up to its last user message: what to answer for tags and follow-ups."""
        last = max((i for i, t in enumerate(self.turns) if t.role == "user"), default=-1)
        return self.turns[: last + 1]


def task_prompt(text: str) -> TaskPrompt | None:
    """The task prompt ``text`` is, or None for anything else (a question)."""
    if "### Task:" not in text:
        return None
    history = _HISTORY.search(text)
    if history is None:
        return None
    template = text[: history.start()] + text[history.end() :]
    kind = next((k for k, key in _KEYS if key.search(template)), None)
    if kind is None:
        return None
    return TaskPrompt(kind, parse_history(history.group(1)))


def parse_history(block: str) -> tuple[Turn, ...]:
    """Open WebUI's rendering of messages ("USER: ...", "ASSISTANT: ...", continuation lines
    belonging to the message above) back into turns."""
    turns: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        m = _LINE.match(line)
        if m:
            turns.append((m.group(1).lower(), [m.group(2)]))
        elif turns:
            turns[-1][1].append(line)
    return tuple(Turn(role, "\n".join(lines).strip()) for role, lines in turns)  # type: ignore[arg-type]


def title(question: str) -> str:
    """A short title from a question: its words from the first one that is not a question or
    function word, at most ``TITLE_WORDS``, without trailing function words."""
    words = _WORD.findall(question)
    start = next((i for i, w in enumerate(words) if w.lower() not in QUESTION_WORDS), None)
    if start is None:
        return " ".join(words[:TITLE_WORDS]) or "Question"
    kept = words[start : start + TITLE_WORDS]
    while kept and kept[-1].lower() in STOPWORDS:
        kept.pop()
    kept[0] = kept[0][:1].upper() + kept[0][1:]
    return " ".join(kept)


def tags(answer: Answer) -> list[str]:
    """The titles (else ids) of the documents the answer cites, once each; ``["General"]`` when
    it cites none."""
    seen: dict[str, None] = {}
    for c in answer.citations:
        seen.setdefault(c.title or c.doc_id, None)
    return list(seen)[:MAX_TAGS] or [GENERAL]


def follow_ups(answer: Answer, asked: Sequence[str], limit: int = MAX_FOLLOW_UPS) -> list[str]:
    """Up to ``limit`` questions about what the passages found hold beyond the answer: their
    headings, then the most specific phrase of each sentence not cited, best passage first.
    Nothing the conversation already said (``asked``: its messages) is suggested. The caller keeps
    those the index answers (a heading such as "Background" may name nothing one can ask about)."""
    said = {w.lower() for text in (*asked, answer_text(answer.answer)) for w in _WORD.findall(text)}
    cited = {(c.doc_id, c.start, c.end) for c in answer.citations}
    cited_docs = {c.doc_id for c in answer.citations}
    # Sentences of the passages, each as its words; document frequency over them ranks phrases.
    sentences: list[list[str]] = []
    headings: list[str] = []
    # The documents the answer cites (all the passages' when it cites none): the rest are off topic.
    passages = [p for p in answer.passages if p.doc_id in cited_docs] or list(answer.passages)
    for p in passages:
        # A passage's heading is its path ("Title > Section"): the section is what it is about.
        heading = (p.heading or "").rsplit(" > ", 1)[-1].strip().lstrip("#").strip()
        if heading and heading != p.title.strip():
            headings.append(heading)
        for s in sentence_spans(p.text):
            start, end = p.start + s.start, p.start + s.end
            if s.kind != "prose" or (p.doc_id, start, end) in cited:
                continue
            words = _WORD.findall(p.text[s.start : s.end])
            if len(words) >= MIN_SENTENCE_WORDS:  # not a byline or a caption
                sentences.append(words)
    df: dict[str, int] = {}
    for words in sentences:
        for w in {w.lower() for w in words}:
            df[w] = df.get(w, 0) + 1
    n = max(len(sentences), 1)
    found: dict[str, None] = {}
    for heading in headings:
        if not set(w.lower() for w in _WORD.findall(heading)) <= said:
            found.setdefault(heading, None)
    for words in sentences:
        phrase = _best_phrase(words, said, lambda w: math.log((n + 1) / (df.get(w.lower(), 0) + 0.5)))
        if phrase:
            found.setdefault(phrase, None)
    return [f"What about {phrase}?" for phrase in found][:limit]


def _best_phrase(words: Sequence[str], said: set[str], weight: Callable[[str], float]) -> str | None:
    """The run of up to ``PHRASE_WORDS`` consecutive content words (no stop word, verb or adverb
    of ``PHRASE_BREAKS``, none already said, at least one letter) with the highest summed weight;
    a single word counts half, since a phrase says more."""
    best: tuple[float, str] | None = None
    run: list[str] = []
    for w in [*words, ""]:
        low = w.lower()
        if (
            w
            and low not in PHRASE_BREAKS
            and not low.endswith("ly")
            and low not in said
            and any(ch.isalpha() for ch in w)
            and len(w) > 2
        ):
            run.append(w)
            continue
        for i in range(len(run)):
            part = run[i : i + PHRASE_WORDS]
            score = sum(weight(x) for x in part) * (1 if len(part) > 1 else 0.5)
            if best is None or score > best[0]:
                best = (score, " ".join(part))
        run = []
    return best[1] if best else None
