"""Extractive answering: pick the sentence of the top passages that best answers the question.

Every sentence of the top passages is described by a few features, each in 0..1 (see
``FEATURES``): its embedding cosine with the question, its IDF-weighted coverage of the question's
terms (on words, on 5-letter stems, and with the previous sentence as context), how much it says
beyond the question, whether it holds a span of the expected answer type (a name for "who", a date
for "when"), and its passage's cosine and retrieval score. The answer sentence is the one with the
highest weighted sum. The weights were fitted by ``python -m evals.tune_answer`` (pairwise logistic
regression on SQuAD v1.1 dev questions that the reported evals do not use). The choice's evidence
is the mean of the chosen sentence's cosine and term coverage; the answer's score is the calibrated
probability that the documents answer at all (``qa.answerability``), and below ``min_score`` the
answer is an honest "not found" with no citation.

With the learned answer model (``qa.answer_model``), the features only shortlist: the
``shortlist`` best sentences under the weights are read by the model, and the winner is the best
under the model's logit plus a weight of the feature score (fitted on validation questions: the
model card's ``combine``); its logit then also counts in the answer's score.

A question asked in another language than the documents' (``qa.langid``; "Which file sets the
mount options?" over a German manual), when the model reads both, is chosen differently: the
features compare words, which such a question shares with almost no sentence, so the model reads
the ``crosslingual_shortlist`` best (16, not 4) and chooses by its logit plus
``CROSSLINGUAL_COSINE_WEIGHT`` x the sentence's embedding cosine with the question (the one feature
that reads meaning rather than words), and the answer's score is the calibration fitted on
questions asked across languages, when there is one (``qa.answerability.find_crosslingual``).

Documentation has structure that prose does not: when the question asks what a code name or a
command-line option does, the candidates that define it (the sentence right under that name's own
signature or heading line, ``defines``; an option's own entry, a sentence starting with it; a term's
entry in a definition list, ``is_term_entry``) are the only ones the weights choose among.

A lead-in sentence ("The options are:", "Initialize it as follows:") answers together with what it
leads in: the list items right after it (``list_after``) or, in documentation, the lines of the
code block right after it (``code_after``: the command it introduces), each cited. A question
about a default ("What is the default value of csv.Dialect.delimiter?") is answered from the
entry of the name it asks about, as a definition is; when the chosen sentence does not state the
default, the one of its paragraph that begins by stating it answers with it (``default_after``:
reference entries say what a setting is, then "It defaults to ','.").

The citation is the exact sentence; when the question has a clear answer type, the answer also
carries the shortest span that answers it (``Answer.short``), when that span is sure enough to show
(``qa.span.short_answer``; in another language, its numbers and dates: ``qa.span_languages``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from qa.answer_model import AnswerModel, context_before, pair
from qa.answerability import FALLBACK_THRESHOLD, Calibration
from qa.embed import Embedder, embed_queries
from qa.embed.queries import LRUCache
from qa.langid import other_language
from qa.language import ENGLISH, Analyser
from qa.sentences import FENCE_LINE, sentence_spans
from qa.span import answer_kind, holds_typed_span, short_answer, shortest_span
from qa.span_languages import answer_kind_in, short_answer_in, shortest_span_in
from qa.span_languages import languages as short_answer_languages
from qa.terms import case_checked, confusable_tokens, coverage, exact_tokens, idf, minmax, question_evidence
from qa.types import Answer, Citation, Passage, Short, Signals

__all__ = [
    "FEATURES",
    "NOT_FOUND",
    "TERM_ENTRY",
    "WEIGHTS",
    "Candidate",
    "ExtractiveAnswerer",
    "candidates",
    "code_after",
    "defines",
    "features",
    "asks_definition",
    "is_option_entry",
    "is_term_entry",
    "list_after",
    "passage_coverage",
    "passage_gap",
]

NOT_FOUND = "I could not find an answer to that in the indexed documents."

FEATURES = ("cosine", "coverage", "passage_cosine", "passage_score", "novelty", "typed", "stem_coverage", "context")
# Fitted by `python -m evals.tune_answer` on SQuAD dev questions 8,000 to 8,699, which no reported
# eval uses (evals/reports/answer_weights.md). Only their ratios matter.
WEIGHTS = (2.41, 1.561, 0.805, 2.567, -0.184, 1.587, 1.756, 1.68)


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # offsets into passage.text
    end: int
    lead: str = ""  # the heading or signature line right before it in the passage: never an answer, its context
    kind: str = "prose"  # qa.sentences kind: prose, item or row
    lead_start: int = -1  # where ``lead`` is in passage.text (-1: no lead)

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def candidates(passages: list[Passage]) -> list[Candidate]:
    """Sentences of the passages, each once even where chunks overlap; headings, signatures and code
    lines left out (``qa.sentences``: only prose, list items and table rows can be answers), a
    heading or signature kept as the ``lead`` of the sentence right after it."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for p in passages:
        lead, lead_start = "", -1
        for sentence in sentence_spans(p.text):
            s, e = sentence.start, sentence.end
            key = (p.doc_id, p.start + s, p.start + e)
            if not sentence.answerable:
                lead, lead_start = (p.text[s:e], s) if sentence.kind in ("heading", "signature") else ("", -1)
                continue
            if key not in seen:
                seen.add(key)
                out.append(Candidate(p, s, e, lead, sentence.kind, lead_start))
            lead, lead_start = "", -1
    return out


# A question in another language than the documents': the weight of the sentence's embedding cosine
# beside the answer model's logit (multilingual-e5's cosines lie within about 0.1 of each other: at
# 20, a cosine 0.05 higher is worth one logit). On XQuAD's validation questions asked in English of
# the German, Chinese and Spanish paragraphs, the model reading 16, answers holding gold: the logit
# alone 0.641 / 0.535 / 0.718, the logit with 20 x the cosine 0.655 / 0.606 / 0.669, with 5 to 40 x
# within 0.03 of that (evals/reports/crosslingual/crosslingual-choice.md; 20 was chosen on a first
# run of the same questions). A candidate beyond the ``embed_sentences`` embedded has the lowest
# cosine read as its estimate, as for any question, until it is chosen and read.
CROSSLINGUAL_COSINE_WEIGHT = 20.0
# The passages ``passage_gap`` compares the closest one with: the next four, so that a request's k
# of 5 (the service's default) or more gives the same signal.
PASSAGE_GAP_OTHERS = 4


def _stems(words: set[str]) -> set[str]:
    return {w[:5] for w in words}


def features(
    question: str,
    cands: list[Candidate],
    cosines: np.ndarray,
    passage_cosine: dict[int, float],
    passage_score: dict[int, float],
    analyser: Analyser = ENGLISH,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate sentence. Words are compared as ``analyser`` cuts
    them (English: ``qa.terms``); the question-type feature reads English's question words, or
    another language's forms for numbers and dates (``qa.span_languages``), and is neutral (0.5)
    for any other question."""
    terms = analyser.terms
    # A question naming "-V" is not answered by a sentence that only says "-v" (``qa.terms``'s
    # case rule, as the second stage applies it, in every language: options are written alike);
    # without such tokens this is plain ``terms``.
    asked = confusable_tokens(question)
    q_terms = question_evidence(question, asked, terms) if asked else terms(question)
    cand_terms = [
        case_checked(terms(c.text), set(exact_tokens(c.text)), asked, terms) if asked else terms(c.text) for c in cands
    ]
    weights = idf(q_terms, cand_terms)
    q_stems = _stems(q_terms)
    # The question's answer type: English's kinds; in another language, a number or a date where
    # its question forms say so (``qa.span_languages``); otherwise neutral.
    code = analyser.language.code
    if analyser.english:
        kind = answer_kind(question)
    else:
        kind = answer_kind_in(question, code) if code in short_answer_languages() else None
    rows = []
    previous: set[str] = set()
    for i, (c, ct) in enumerate(zip(cands, cand_terms, strict=True)):
        # The sentence before, when it is the previous sentence of the same passage; for the first
        # sentence under a heading or signature line (os.path.basename(path)), that line.
        same = i > 0 and cands[i - 1].passage.chunk_id == c.passage.chunk_id
        lead = terms(c.lead) if c.lead else set()
        previous = lead if c.lead else cand_terms[i - 1] if same else set()
        # The heading or signature line right above a sentence names its subject: under
        # "textwrap.wrap(text, width=70)", "Wraps the single paragraph..." is about textwrap.wrap
        # though it never says so. Its terms count as the sentence's own.
        own = ct | lead
        if kind is None:
            typed = 0.5
        elif analyser.english:
            typed = float(holds_typed_span(question, c.text))
        else:
            typed = float(shortest_span_in(question, c.text, analyser) is not None)
        rows.append(
            (
                float(cosines[i]),
                coverage(q_terms, weights, own),
                passage_cosine.get(c.passage.chunk_id, 0.0),
                passage_score.get(c.passage.chunk_id, 0.0),
                len(ct - q_terms) / len(ct) if ct else 0.0,
                typed,
                len(q_stems & _stems(own)) / len(q_stems) if q_stems else 0.0,
                coverage(q_terms, weights, ct | previous),
            )
        )
    return np.array(rows, dtype=np.float64).reshape(len(cands), len(FEATURES))


class SentenceVectors:
    """Sentence embeddings with an LRU cache: the sentences of popular passages are embedded once,
    not on every question that retrieves them. Thread-safe; ``size`` 0 turns it off."""

    def __init__(self, embedder: Embedder, size: int = 20_000) -> None:
        self.embedder = embedder
        self.cache = LRUCache(size)

    def embed(self, texts: list[str]) -> np.ndarray:
        known = {t: v for t in dict.fromkeys(texts) if (v := self.cache.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo), strict=True):
                known[t] = v
                self.cache.put(t, v)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[t] for t in texts])


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: Embedder,
        min_score: float | None = None,
        weights: tuple[float, ...] = WEIGHTS,
        passages: int = 5,
        cache_size: int = 20_000,
        model: AnswerModel | None = None,
        shortlist: int = 8,
        embed_sentences: int = 0,
        analyser: Analyser = ENGLISH,
        calibration: Calibration | None = None,
        crosslingual_shortlist: int = 16,
        crosslingual_calibration: Calibration | None = None,
    ) -> None:
        if len(weights) != len(FEATURES):
            raise ValueError(f"{len(FEATURES)} weights needed ({', '.join(FEATURES)}), got {len(weights)}")
        self.embedder = embedder
        self.sentences = SentenceVectors(embedder, cache_size)
        self.model = model
        # The answer's score: the calibrated probability that the documents answer
        # (``qa.answerability``), or without a calibration the chosen sentence's evidence; below
        # ``min_score`` (by default the calibration's threshold) the answer is "not found".
        self.calibration = calibration
        # A question in another language than the documents': the model reads this many and
        # chooses by its logit and the sentence's cosine (0: such a question is answered as any
        # other), and its answer's score is this calibration's, when there is one (module docstring).
        self.crosslingual_shortlist = crosslingual_shortlist
        self.crosslingual_calibration = crosslingual_calibration
        self._min_score = min_score
        if min_score is None:
            min_score = calibration.threshold if calibration else FALLBACK_THRESHOLD
        self.min_score = min_score
        self.weights = np.array(weights, dtype=np.float64)
        self.passages = passages
        self.shortlist = shortlist
        self.embed_sentences = embed_sentences
        # The documents' language: its terms for the word overlap; English's short answers and the
        # definition rule read English questions only; another language has its numbers and dates
        # (``qa.span_languages``).
        self.analyser = analyser

    def question_language(self, question: str) -> str | None:
        """The language ``question`` is written in when it is not the documents' and the answer
        model reads both (``qa.langid``); None otherwise, and always without a model or with
        ``crosslingual_shortlist`` 0."""
        if self.model is None or not self.crosslingual_shortlist:
            return None
        other = other_language(question, self.analyser.language.code)
        return other if other is not None and self.model.reads(other) else None

    def choose(
        self,
        question: str,
        cands: list[Candidate],
        rows: np.ndarray,
        across: bool = False,
        known: dict[int, float] | None = None,
    ) -> tuple[int, Signals]:
        """The index of the answer sentence among ``cands`` and what the choice says about whether it
        answers (``Signals``; see the module docstring). ``across``: the question is in another
        language than the documents (``question_language``). ``known``: the model's logits of
        ``cands`` read so far (``read``)."""
        base = self.feature_score(question, cands, rows)
        if self.model is None:
            best = int(np.argmax(base))
            # The evidence: how well the chosen sentence matches the question, in meaning and in words.
            return best, Signals(evidence=float(rows[best, 0] + rows[best, 1]) / 2)
        if across:
            # Across languages the words say nothing: the model's logit, with the sentence's
            # embedding cosine (the one feature that reads meaning, not words) beside it.
            top, logits = self.read(question, cands, base, self.crosslingual_shortlist, known)
            at = int(np.argmax(logits + CROSSLINGUAL_COSINE_WEIGHT * rows[top, 0]))
        else:
            top, logits = self.read(question, cands, base, known=known)
            at = int(np.argmax(self.model.combine(logits, base[top])))
        best = int(top[at])
        # The model chooses; the evidence, the model's logit and its margin over the best other
        # sentence it read decide "not found" together (``qa.answerability``).
        others = np.delete(logits, at)
        return best, Signals(
            evidence=float(rows[best, 0] + rows[best, 1]) / 2,
            logit=float(logits[at]),
            logit_margin=float(logits[at] - others.max()) if len(others) else 0.0,
        )

    def feature_score(self, question: str, cands: list[Candidate], rows: np.ndarray) -> np.ndarray:
        """Each candidate's weighted feature score; minus infinity for all but a definition's or an
        option's (or a format conversion's: "%a") own entries when the question asks for one and
        some are among ``cands``."""
        base = rows @ self.weights
        options = [t for t in exact_tokens(question) if t.startswith(("-", "%"))]
        if self.analyser.english:
            # A default asked about is a setting's (an attribute's, a constant's, an option's): its
            # entry is under a line that names it without a call; a function's default is one of
            # its parameters', stated anywhere in its description.
            definition = asks_definition(question)
            setting = not definition and _DEFAULT.search(question) is not None
            defining = (
                [
                    i
                    for i, c in enumerate(cands)
                    if (c.lead and defines(c.lead, question) and not (setting and "(" in c.lead))
                    or (options and is_option_entry(c.text, options))
                    # A term's own entry, unless the question asks about an option: "What does
                    # sort -r do?" is about -r, not about "sort - sort lines of text files".
                    or (not options and is_term_entry(c.text, question))
                ]
                if definition or setting
                else []
            )
        else:
            # No question grammar to read in other languages ("Was macht cp -u?", "cp -u 什么时候复制？"):
            # a question that names an option is answered from that option's own entry, when one is
            # among the candidates.
            defining = [i for i, c in enumerate(cands) if options and is_option_entry(c.text, options)]
        if defining:
            # "What does textwrap.wrap do?": the sentence right under textwrap.wrap's own signature
            # or heading is where the documentation says it (and "What is the default value of
            # csv.Dialect.delimiter?" starts there: ``default_after``), and "What does ls -S do?" is
            # answered by -S's own entry; a sentence elsewhere that repeats the name ("See wrap() for
            # details", "Raises an auditing event textwrap.wrap", "With -l, -S sorts...") is not.
            others = np.ones(len(cands), dtype=bool)
            others[defining] = False
            base = np.where(others, -np.inf, base)
        return base

    def read(
        self,
        question: str,
        cands: list[Candidate],
        base: np.ndarray,
        shortlist: int | None = None,
        known: dict[int, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The shortlist: the indices of the ``shortlist`` (by default ``self.shortlist``) best of
        ``cands`` by their feature score ``base``, none that a rule ruled out (minus infinity), and
        the answer model's logit for each (``evals.fit_combine`` fits the weight that combines the
        two on them). ``known`` holds logits read before for this question and ``cands`` (a
        sentence's logit is its own: ``AnswerModel.score``): only the others are read, and added."""
        if self.model is None:
            raise ValueError("no answer model to read the shortlist")
        top = np.argsort(-base, kind="stable")[: shortlist or self.shortlist]
        if np.isfinite(base[top[0]]):
            top = top[np.isfinite(base[top])]
        known = {} if known is None else known
        unread = [int(i) for i in top if int(i) not in known]
        logits = self.model.score(
            [
                pair(
                    question,
                    cands[i].text,
                    cands[i].passage.title,
                    context_before(cands[i].passage.text, cands[i].start),
                )
                for i in unread
            ]
        )
        known.update(zip(unread, logits.tolist(), strict=True))
        logits = np.array([known[int(i)] for i in top], dtype=np.float32)
        return top, logits

    def score(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None = None,
        passage_vectors: dict[int, np.ndarray] | None = None,
    ) -> tuple[list[Candidate], np.ndarray]:
        """The candidate sentences of the top passages and their feature rows."""
        cands, rows, _, _ = self._score(question, passages, query_vector, passage_vectors)
        return cands, rows

    def _score(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None,
        passage_vectors: dict[int, np.ndarray] | None,
    ) -> tuple[list[Candidate], np.ndarray, np.ndarray, dict[int, float]]:
        """``score``, which rows hold their sentence's own cosine (the others an estimate), and the
        passages' cosines with the question by chunk id."""
        top = passages[: self.passages]
        cands = candidates(top)
        if not cands:
            return [], np.zeros((0, len(FEATURES))), np.zeros(0, dtype=bool), {}
        q = query_vector if query_vector is not None else embed_queries(self.embedder, [question])[0]
        # A passage counts by its stored vector's cosine with the question (the retrieval score
        # scale depends on the mode) and by its rank, as the min-max normalized retrieval score.
        pcos = {cid: float(v @ q) for cid, v in (passage_vectors or {}).items()}
        pscore = dict(zip((p.chunk_id for p in top), minmax([p.score for p in top]), strict=True))
        if not pcos:  # a store without vectors: the passage's best sentence stands in
            cos = self.sentences.embed([c.text for c in cands]) @ q
            for c, s in zip(cands, cos, strict=True):
                pcos[c.passage.chunk_id] = max(pcos.get(c.passage.chunk_id, -1.0), float(s))
            rows = features(question, cands, cos, pcos, pscore, self.analyser)
            return cands, rows, np.ones(len(cands), dtype=bool), pcos
        rows = features(question, cands, np.zeros(len(cands)), pcos, pscore, self.analyser)
        read = self.to_embed(rows)
        cos = self.sentences.embed([cands[i].text for i in read]) @ q
        # Embedding the sentences is most of an answer's time (a 5-abstract answer reads about
        # 45). Those the other features rank below the first ``embed_sentences`` are not read:
        # their cosine is taken as the lowest one read, so they never win on meaning.
        rows[:, 0] = float(cos.min()) if len(cos) else 0.0
        rows[read, 0] = cos
        exact = np.zeros(len(cands), dtype=bool)
        exact[read] = True
        return cands, rows, exact, pcos

    def to_embed(self, rows: np.ndarray) -> np.ndarray:
        """Which candidates' sentences to embed: all of them, or (``embed_sentences``) the best under
        the weights of every feature but the sentence's own cosine (column 0, zero in ``rows``)."""
        n = len(rows)
        if not self.embed_sentences or n <= self.embed_sentences:
            return np.arange(n)
        return np.sort(np.argsort(-(rows @ self.weights), kind="stable")[: self.embed_sentences])

    def answer(
        self,
        question: str,
        passages: list[Passage],
        query_vector: np.ndarray | None = None,
        passage_vectors: dict[int, np.ndarray] | None = None,
    ) -> Answer:
        """Best sentence of the top passages, cited by its exact span."""
        cands, rows, exact, pcos = self._score(question, passages, query_vector, passage_vectors)
        if not cands:
            return Answer(answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages))
        across = self.question_language(question) is not None
        known: dict[int, float] = {}  # the model's logits, read once for this answer
        best, signals = self.choose(question, cands, rows, across, known)
        q = query_vector
        while not exact[best]:
            # Chosen on an estimated cosine: read the sentence itself, and choose again with it, so
            # the answer's evidence (and "not found") never rests on an estimate.
            if q is None:
                q = embed_queries(self.embedder, [question])[0]
            rows[best, 0] = float(self.sentences.embed([cands[best].text])[0] @ q)
            exact[best] = True
            best, signals = self.choose(question, cands, rows, across, known)
        signals = replace(
            signals,
            passage_coverage=passage_coverage(question, passages, cands[best].passage, self.analyser),
            passage_gap=passage_gap(pcos.values()),
        )
        calibration = (across and self.crosslingual_calibration) or self.calibration
        score = calibration.probability(signals) if calibration else signals.evidence
        min_score = self.min_score
        if calibration is not None and calibration is not self.calibration and self._min_score is None:
            min_score = calibration.threshold
        if score < min_score:
            return Answer(
                answer=NOT_FOUND, found=False, citations=(), passages=tuple(passages), score=score, signals=signals
            )
        c = cands[best]
        p = c.passage
        after = list_after(cands, best) or code_after(c)
        if not after and self.analyser.english:
            after = default_after(question, cands, best)
        chosen = [c, *after]
        first, span = c, shortest_span(question, c.text) if self.analyser.english else None
        # "Which function copies the permission bits?": the sentence says what it does, the
        # signature line above it names it. Then that line is cited first, and names the answer,
        # also over a name the sentence mentions in passing ("Which function in heapq returns the n
        # largest elements?": heapq.nlargest's line, not the "key=str.lower" of its example),
        # unless the question names the documented thing itself ("Which exception does json.loads
        # raise?": the sentence's name answers).
        if c.lead_start >= 0 and self.analyser.english and answer_kind(question) == "identifier":
            named = shortest_span(question, c.lead)
            if named is not None and (span is None or c.lead[named[0] : named[1]] not in question):
                first, span = Candidate(p, c.lead_start, c.lead_start + len(c.lead), kind="signature"), named
                chosen.insert(0, first)
        citations = tuple(
            Citation(n=i, doc_id=p.doc_id, title=p.title, start=p.start + x.start, end=p.start + x.end, quote=x.text)
            for i, x in enumerate(chosen, 1)
        )
        short = None
        # Shown only when sure enough (``qa.span.short_answer``): a wrong short answer misleads
        # where the cited sentence alone would not.
        evidence = signals.evidence
        shown = short_answer(question, first.text, evidence) if span is not None else None
        if not self.analyser.english:
            # Another language: its numbers and dates only (``qa.span_languages``).
            shown = short_answer_in(question, first.text, evidence, self.analyser)
        if shown is not None:
            s, e = shown
            at = citations[0].start
            short = Short(text=first.text[s:e], doc_id=p.doc_id, start=at + s, end=at + e)
        return Answer(
            answer="\n".join(x.text for x in chosen),
            found=True,
            citations=citations,
            passages=tuple(passages),
            score=score,
            short=short,
            signals=signals,
        )


def passage_coverage(question: str, passages: list[Passage], chosen: Passage, analyser: Analyser = ENGLISH) -> float:
    """The share of the question's terms that ``chosen`` (its title and text) holds, each weighted by
    its inverse frequency among ``passages`` (all that were retrieved, not only the ones whose
    sentences are read: the estimate is better over more of them): a term that none of them holds
    ("Eiffel" over a packaging manual) weighs most, one they all hold least. 0 for a question
    without terms. An answer signal (``Signals.passage_coverage``): the sentence of a passage that
    misses what the question is about rarely answers it."""
    q_terms = set(analyser.terms(question))
    if not q_terms:
        return 0.0
    read = {p.chunk_id: set(analyser.terms(f"{p.title} {p.text}")) for p in passages}
    held = read.get(chosen.chunk_id) or set(analyser.terms(f"{chosen.title} {chosen.text}"))
    n = len(read)
    weights = {t: math.log((n + 1) / (sum(t in ts for ts in read.values()) + 0.5)) for t in q_terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in held) / total if total > 0 else 0.0


def passage_gap(cosines: Iterable[float]) -> float:
    """How far the passage closest to the question stands above the next ``PASSAGE_GAP_OTHERS``
    closest of those retrieved: its cosine minus the mean of theirs (0 for one passage). So it
    does not depend on how many passages were asked for beyond those (the service's default ``k``
    is 5, the evaluations' 10). An answer signal (``Signals.passage_gap``): the documents' passages
    are all about as close to a question they do not answer, whatever the embedder's scale
    (multilingual-e5's cosines are never far below 0.8) and the language pair; a question asked in
    another language than the documents shares no words with them, and this is what tells its
    "not found" best (evals/reports/answerability/)."""
    cs = sorted(cosines, reverse=True)[: PASSAGE_GAP_OTHERS + 1]
    return cs[0] - sum(cs[1:]) / (len(cs) - 1) if len(cs) > 1 else 0.0


def default_after(question: str, cands: list[Candidate], i: int) -> list[Candidate]:
    """The sentence that states the default ``question`` asks about, when the chosen ``cands[i]``
    does not: the first of the next ``MAX_DEFAULT_AHEAD`` sentences of its paragraph (in the same
    passage, under no line of their own) that begins by stating one ("By default these are bx and
    m.", "It defaults to '='."). A reference entry says what a setting is, then its default. Empty
    otherwise."""
    if not _DEFAULT.search(question) or _DEFAULT.search(cands[i].text):
        return []
    for nxt, gap in following(cands, i, MAX_DEFAULT_AHEAD):
        if nxt.lead or gap.count("\n") > 1:  # under a line of its own, or in the next paragraph
            break
        if _OPENS_WITH_DEFAULT.match(nxt.text):
            return [nxt]
    return []


def code_after(c: Candidate) -> list[Candidate]:
    """The code right after a lead-in sentence ("Initialize it as follows:", "Run:"), which answers
    with it: the lines of the code block that follows it in the same passage with nothing but white
    space between, its fence lines left out (at most ``MAX_CODE_LINES``). Empty when the sentence is
    not a lead-in or no code follows it."""
    if not c.text.rstrip().endswith(":"):
        return []
    text = c.passage.text
    out: list[Candidate] = []
    prev = c.end
    for sentence in sentence_spans(text, c.end):
        if sentence.kind != "code" or text[prev : sentence.start].strip():
            break
        prev = sentence.end
        if not FENCE_LINE.fullmatch(text, sentence.start, sentence.end):
            out.append(Candidate(c.passage, sentence.start, sentence.end, kind="code"))
            if len(out) == MAX_CODE_LINES:
                break
    return out


MAX_LIST_ITEMS = 8
MAX_CODE_LINES = 4
MAX_DEFAULT_AHEAD = 3
# A question about a default or a sentence that states one; a sentence that begins by stating it
# (in parentheses too: "(default: True)", after an entry's description).
_DEFAULT = re.compile(r"\bdefaults?\b", re.IGNORECASE)
_OPENS_WITH_DEFAULT = re.compile(
    r"\(?(?:by\s+default\b|(?:the|its|their)\s+defaults?\b|defaults?\b|(?:it|this|they|these)\s+defaults?\s+to\b)",
    re.IGNORECASE,
)

# A code name asked about: dotted (textwrap.wrap, str.split), called (wrap()), or snake_case.
_ASKED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|(?<![\w.])[A-Za-z_]\w*(?=\(\))|(?<![\w.])[a-z]\w*_\w+")
# The name a signature or heading line documents: "### textwrap.wrap(text, ...)", "## class
# string.Formatter", "@functools.cache(user_function)", "#### format(format_string, ...)".
_DOCUMENTED = re.compile(
    r"#*\s*(?:(?:class|exception|async|coroutine|classmethod|staticmethod|abstractmethod|awaitable|method|"
    r"function|attribute|property|data)\s+)*@?([A-Za-z_][\w.]*)"
)


# "What does X do?", "What is X?", "What is X for?", "What does X mean?", "What does X return?": what
# a definition answers (documentation says what a function returns in its first sentence:
# "Serialize obj to a JSON formatted str").
# At most an article and a noun before the name ("What does the function X do?"); not "What
# exception does X raise?" or "What is the default size of X?", said further down than X's first
# sentence.
_DEFINITION_Q = re.compile(
    r"\s*what(?:'s|\s+is|\s+are|\s+does|\s+do)\s+(?:the\s+)?(?:[a-z]+\s+)?\S+"
    r"(?:\s+(?:do|does|mean|for|stand\s+for|returns?))?\s*\??\s*",
    re.IGNORECASE,
)


def asks_definition(question: str) -> bool:
    """Whether the question asks what something is or does (a definition answers it)."""
    return _DEFINITION_Q.fullmatch(question) is not None


def is_option_entry(text: str, options: list[str]) -> bool:
    """Whether ``text`` is an option's entry in a list of options ("-S     sort by file size",
    "-v, --invert-match  Invert the sense of matching") or a format conversion's ("%a     permission
    bits in octal"): it starts with an asked option or conversion, exactly."""
    head = text.lstrip()
    for o in options:
        if head.startswith(o) and (len(head) == len(o) or not (head[len(o)].isalnum() or head[len(o)] in "-_")):
            return True
    return False


# An entry of a definition list, in one line (a list item's marker first, if any): the term (quoted
# or not, a call's "()" kept), an optional gloss in quotes or parentheses, then a dash or a colon
# ("allow_abbrev - Allows long options to be abbreviated", "- 'count' - This counts the number of
# times", "tbtags 'Top-or-bottom tags': For an equation containing a split environment"); or, for a
# lowercase term, straight the description's capital, as a PDF's description list reads without its
# bold ("nosumlimits Always place the subscripts ...", "centertags (default) For an equation ...").
TERM_ENTRY = re.compile(
    r"\s*(?:[-*•+]\s+|\d{1,3}[.)]\s+)?['\"`‘“]?(?P<term>[A-Za-z_][\w.]*(?:\(\))?)['\"`’”]?"
    r"(?:\s+(?:['\"‘“][^'\"’”\n]{1,40}['\"’”]|\([^()\n]{1,40}\)))?(?:\s*(?:[-–—]|:)\s|(?P<capital>\s+[A-Z]))"
)
# Words of a question that name no term ("What is the default value of X?").
_NOT_TERMS = frozenset(
    "what which is are does do did the a an of for to in on mean means return returns value default defaults".split()
)


def is_term_entry(text: str, question: str) -> bool:
    """Whether ``text`` is the entry of a term the question names in a definition list: it starts
    with that term, then a dash or a colon, or (a lowercase term) its description's capital
    (``TERM_ENTRY``). A term is a word of the question as it is written, not a question word."""
    m = TERM_ENTRY.match(text)
    if not m:
        return False
    term = m.group("term").removesuffix("()")
    if m.group("capital") and not term[0].islower():  # "Victoria Beckham ..." is no entry of Victoria
        return False
    asked = {w.removesuffix("()") for w in re.findall(r"[A-Za-z_][\w.]*(?:\(\))?", question)}
    return term.lower() not in _NOT_TERMS and len(term) > 1 and term in asked


def defines(lead: str, question: str) -> bool:
    """Whether ``lead`` (a signature or heading line) documents a code name the question asks about:
    one name is the other or its tail ("format(...)" documents string.Formatter.format, and
    "textwrap.wrap(...)" documents the wrap() a question asks about)."""
    m = _DOCUMENTED.match(lead)
    if not m:
        return False
    documented = m.group(1).rstrip(".").split(".")
    for asked in _ASKED.findall(question):
        parts = asked.split(".")
        n = min(len(parts), len(documented))
        if parts[-n:] == documented[-n:] and len(documented[-1]) > 1:
            return True
    return False


def list_after(cands: list[Candidate], i: int) -> list[Candidate]:
    """The list items right after a lead-in sentence ("The options are:"), which answer with it:
    the items that follow it in the same passage with nothing but white space between (at most
    ``MAX_LIST_ITEMS``). Empty when the sentence is not a lead-in."""
    c = cands[i]
    if not c.text.rstrip().endswith(":"):
        return []
    out: list[Candidate] = []
    for nxt, _ in following(cands, i, MAX_LIST_ITEMS):
        if nxt.kind != "item":
            break
        out.append(nxt)
    return out


def following(cands: list[Candidate], i: int, limit: int) -> Iterator[tuple[Candidate, str]]:
    """The next ``limit`` candidates after ``cands[i]`` in its passage, each with the text between it
    and the one before: up to the first with anything but white space between."""
    c = cands[i]
    prev = c
    for nxt in cands[i + 1 : i + 1 + limit]:
        if nxt.passage.chunk_id != c.passage.chunk_id:
            return
        gap = c.passage.text[prev.end : nxt.start]
        if gap.strip():
            return
        yield nxt, gap
        prev = nxt
