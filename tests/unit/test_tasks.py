"""Open WebUI's task prompts recognised, and the title, tags and follow-ups derived (qa.tasks)."""

from __future__ import annotations

from qa.chat import Turn
from qa.tasks import follow_ups, parse_history, tags, task_prompt, title
from qa.types import Answer, Citation, Passage


def prompt(key: str, history: str) -> str:
    # The structure of Open WebUI's default templates: a task block asking for a JSON key, the
    # history as USER:/ASSISTANT: lines between chat_history tags.
    return (
        f'### Task:\nDo the task.\n### Output:\nJSON format: {{ "{key}": ... }}\n'
        f"### Chat History:\n<chat_history>\n{history}\n</chat_history>"
    )


def test_each_task_is_recognised_and_questions_are_not() -> None:
    history = "USER: Who met in Paris?\nASSISTANT: Two ministers met. [1]\n\nSources:\n[1] Talks (paris.md)"
    for key in ("title", "tags", "follow_ups"):
        task = task_prompt(prompt(key, history))
        assert task is not None and task.kind == key
        assert task.turns == (
            Turn("user", "Who met in Paris?"),
            Turn("assistant", "Two ministers met. [1]\n\nSources:\n[1] Talks (paris.md)"),
        )
        assert task.question == "Who met in Paris?" and task.conversation == task.turns[:1]
    assert task_prompt("Who met in Paris?") is None
    assert task_prompt('What does the "title": field of ### Task: mean?') is None  # no chat history
    assert task_prompt(prompt("summary", history)) is None  # a task qa does not know


def test_history_lines_continue_their_message() -> None:
    turns = parse_history("USER: one\ntwo\nASSISTANT: three\nSYSTEM: four")
    assert [t.role for t in turns] == ["user", "assistant", "system"] and turns[0].content == "one\ntwo"


def test_titles_drop_question_words() -> None:
    assert title("Who met in Paris?") == "Met in Paris"
    assert title("How do I bake sourdough bread?") == "Bake sourdough bread"
    assert title("What is the default nprobe in FAISS and why?") == "Default nprobe in FAISS"
    assert title("Tell me about the solar system") == "Solar system"
    assert title("What is it?") == "What is it"  # nothing but question words: kept as asked


TEXT = "Ministers met in Paris in August. The meeting was reported by Syrian state media and by several other outlets."


def answer(cited: bool) -> Answer:
    passage = Passage(1, "paris.md", "Talks in Paris", TEXT, 0, len(TEXT), 1.0, heading="Talks in Paris > Background")
    other = Passage(2, "bread.txt", "Bread", "Dough rises overnight in a warm kitchen corner.", 0, 47, 0.1)
    citations = (Citation(1, "paris.md", "Talks in Paris", 0, 33, TEXT[:33]),) if cited else ()
    return Answer(TEXT[:33] if cited else "not found", cited, citations, (passage, other))


def test_tags_are_the_cited_documents_titles() -> None:
    assert tags(answer(cited=True)) == ["Talks in Paris"]
    assert tags(answer(cited=False)) == ["General"]


def test_follow_ups_come_from_what_the_answer_did_not_say() -> None:
    got = follow_ups(answer(cited=True), ["Who met in Paris?"])
    # The section heading, then the most specific phrase of the sentence not cited; nothing from
    # the cited sentence or the off-topic document.
    assert got == ["What about Background?", "What about Syrian state media?"]
