"""Which language a question is written in, when it is not the collection's.

A question may be asked in another language than its collection's documents ("Which file sets
the mount options?" over a German manual). With a multilingual embedder and answer model, retrieval
still finds the passage (the embedding is language-neutral), but everything that compares words,
the feature scorer's overlap and the answer's evidence, finds almost none, so the answerer reads
the wrong sentences and says "not found" (evals/reports/crosslingual/). ``other_language`` tells
such a question apart, so the answerer (``qa.answer``) can choose by the model alone and score the
answer with a calibration fitted on questions asked across languages.

The identifier is py3langid's (the langid.py model of Lui and Baldwin, 2012, in a maintained
numpy port; its model ships in the wheel, nothing is fetched), restricted to the languages qa
analyses (``qa.language.LANGUAGES``): over all its 97 labels it calls 10% of XQuAD's Chinese
questions Wu Chinese and some Hindi ones Nepali or Marathi; restricted, it names the language of
every XQuAD question in six languages and of 99.7% of the English ones (3 of 1,190 wrong: "How are
ergänzungsschulen funded?"), in well under a millisecond. A short question is often ambiguous
("Who met in Paris?": Dutch, 0.42), so another language counts only at ``MIN_PROBABILITY``: a
question the identifier is unsure of is taken to be in the collection's language, as before.
``conversation_language`` names the language a chat's follow-ups are read in (``qa.chat``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

__all__ = ["MIN_PROBABILITY", "conversation_language", "identify", "other_language"]

# The identifier's probability (normalised over qa's languages) at which a question counts as
# written in another language than its collection's.
MIN_PROBABILITY = 0.9

_lock = threading.Lock()
_identifier = None


def _load():  # type: ignore[no-untyped-def]
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            from qa.language import LANGUAGES

            ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            ident.set_languages([c for c in LANGUAGES if c != "multilingual"])
            _identifier = ident
        return _identifier


def identify(text: str) -> tuple[str, float]:
    """The language of ``text`` among qa's (``qa.language.LANGUAGES``) and its probability."""
    ident = _identifier or _load()
    code, probability = ident.classify(text)
    return str(code), float(probability)


def other_language(question: str, language: str) -> str | None:
    """The language ``question`` is written in when the identifier is sure it is not ``language``
    (a collection's ``QA_LANGUAGE``), else None; always None for a ``multilingual`` collection."""
    if language == "multilingual" or not question.strip():
        return None
    code, probability = identify(question)
    return code if code != language and probability >= MIN_PROBABILITY else None


def conversation_language(texts: Sequence[str], language: str) -> str:
    """The language a conversation's user turns (``texts``) are written in, for reading a
    follow-up's words (``qa.chat``): the collection's ``language`` unless the identifier is sure
    of another (over all the turns: "Und dort?" alone is too short to tell); for a
    ``multilingual`` collection the identifier's guess when sure, else English."""
    joined = " ".join(t for t in texts if t.strip())
    if language != "multilingual":
        return other_language(joined, language) or language
    if not joined:
        return "en"
    code, probability = identify(joined)
    return code if probability >= MIN_PROBABILITY else "en"
