"""Short answers in other languages: the question forms that ask for a number or a date, and the
number or date span of the cited sentence (examples written for these tests)."""

from __future__ import annotations

import pytest

from qa.language import Analyser
from qa.span import answer_kind
from qa.span_languages import (
    answer_kind_in,
    asks_count,
    asks_year,
    choose_span_in,
    dates_in,
    languages,
    numbers_in,
    short_answer_in,
    shortest_span_in,
)


@pytest.mark.parametrize(
    ("code", "question", "kind"),
    [
        ("de", "Wie viele Einwohner hat Hamburg?", "number"),
        ("de", "Wieviel kostete der Bau?", "number"),
        ("de", "Wie lange dauerte der Krieg?", "number"),
        ("de", "Wann wurde die Brücke eröffnet?", "date"),
        ("de", "In welchem Jahr starb Goethe?", "date"),
        ("de", "In welchem Jahrhundert entstand die Burg?", "date"),
        ("de", "Wer baute die Brücke?", None),
        ("de", "Warum wurde die Brücke gebaut?", None),
        ("es", "¿Cuántos habitantes tiene Lima?", "number"),
        ("es", "¿Cuántas lenguas se hablan allí?", "number"),
        ("es", "¿Cuánto costó el puente?", "number"),
        ("es", "¿Qué porcentaje de la población vota?", "number"),
        ("es", "¿Cuándo se fundó la universidad?", "date"),
        ("es", "¿En qué año murió Cervantes?", "date"),
        ("es", "¿En qué siglo se construyó el castillo?", "date"),
        ("es", "¿Quién fundó la universidad?", None),
        ("es", "¿Qué pasó cuando llegó el rey?", None),  # the conjunction "cuando", unaccented
        ("ru", "Сколько студентов учится в университете?", "number"),
        ("ru", "Какова длина реки?", "number"),
        ("ru", "Когда был основан город?", "date"),
        ("ru", "В каком году умер Толстой?", "date"),
        ("ru", "Какого числа началась война?", "date"),
        ("ru", "Кто основал город?", None),
        ("zh", "这座城市有多少人？", "number"),
        ("zh", "公司有几个工厂？", "number"),
        ("zh", "这条河有多长？", "number"),
        ("zh", "大学是什么时候成立的？", "date"),
        ("zh", "他是哪一年出生的？", "date"),
        ("zh", "战争是何时结束的？", "date"),
        ("zh", "战争在几月结束？", "date"),
        ("zh", "几乎所有人都同意什么？", None),  # 几乎: almost
        ("zh", "许多大学位于哪里？", None),  # 许多大学: many universities, not 多大
        ("zh", "谁建立了这所大学？", None),
        ("ar", "كم عدد سكان القاهرة؟", "number"),
        ("ar", "ما عدد الطلاب في الجامعة؟", "number"),
        ("ar", "ما نسبة المسلمين في البلاد؟", "number"),
        ("ar", "متى تأسست الجامعة؟", "date"),
        ("ar", "في أي عام توفي الملك؟", "date"),
        ("ar", "من أسس الجامعة؟", None),
        ("hi", "शहर में कितने लोग रहते हैं?", "number"),
        ("hi", "पुल की लंबाई कितनी है?", "number"),
        ("hi", "पुल कितना लंबा है?", "number"),
        ("hi", "विश्वविद्यालय की स्थापना कब हुई?", "date"),
        ("hi", "गांधी का जन्म किस वर्ष हुआ?", "date"),
        ("hi", "सेना ने किले पर कब्जा किया?", None),  # कब्जा (occupation) is not कब (when)
        ("hi", "विश्वविद्यालय की स्थापना किसने की?", None),
        ("pt", "Quantos habitantes tem Lisboa?", "number"),
        ("pt", "Em que ano morreu Camões?", "date"),
        ("fr", "Combien d'habitants compte Paris ?", "number"),
        ("fr", "En quelle année est mort Hugo ?", "date"),
        ("it", "Quanti abitanti ha Roma?", "number"),
        ("it", "In che anno morì Dante?", "date"),
    ],
)
def test_question_forms(code: str, question: str, kind: str | None) -> None:
    assert answer_kind_in(question, code) == kind


def test_count_measure_and_year_forms() -> None:
    assert asks_count("Wie viele Einwohner hat Hamburg?", "de")
    assert not asks_count("Wie lang ist die Elbe?", "de")
    assert asks_count("¿Cuántos habitantes tiene Lima?", "es")
    assert not asks_count("¿Cuánto mide el puente?", "es")
    assert asks_year("In welchem Jahr starb Goethe?", "de")
    assert not asks_year("Wann starb Goethe?", "de")
    assert asks_year("В каком году умер Толстой?", "ru")
    assert asks_year("他是哪一年出生的？", "zh")
    assert asks_year("في أي عام توفي الملك؟", "ar")
    assert asks_year("गांधी का जन्म किस साल हुआ?", "hi")


def test_english_and_unknown_languages_have_no_forms_here() -> None:
    # English keeps qa.span's own rules; a language without forms gets no short answer.
    assert "en" not in languages()
    assert answer_kind_in("How many people live there?", "en") is None
    assert answer_kind("How many people live there?") == "number"
    assert answer_kind_in("ชาวนาเกี่ยวข้าวกี่ครั้ง", "th") is None


def _texts(sentence: str, spans: list) -> list[str]:  # type: ignore[type-arg]
    return [sentence[s.start : s.end] for s in spans]


@pytest.mark.parametrize(
    ("code", "sentence", "numbers"),
    [
        ("de", "Die Stadt hat 1.234.567 Einwohner und 3,5 Millionen Besucher.", ["1.234.567", "3,5 Millionen"]),
        ("de", "Etwa 12 % der Fläche sind Wald, drei Seen liegen dort.", ["12 %", "drei"]),
        ("es", "Viven allí 1.200 personas y el 40 por ciento habla quechua.", ["1.200", "40 por ciento"]),
        ("ru", "В городе живут 1 200 000 человек, из них 5 тысяч студентов.", ["1 200 000", "5 тысяч"]),
        ("ar", "يعيش في المدينة ١٬٢٠٠٬٠٠٠ نسمة و 30٪ منهم طلاب.", ["١٬٢٠٠٬٠٠٠", "30٪"]),
        ("hi", "शहर में ३५,००० लोग और 2 लाख वाहन हैं।", ["३५,०००", "2 लाख"]),
        ("zh", "全市有3000万人口和三个机场，第二个机场在南边。", ["3000万", "三"]),
    ],
)
def test_numbers_with_their_grouping_scale_and_percent(code: str, sentence: str, numbers: list[str]) -> None:
    assert _texts(sentence, numbers_in(sentence, code)) == numbers


def test_a_number_inside_a_date_is_no_count() -> None:
    s = "Am 2. März 1955 kamen 300 Gäste."
    assert _texts(s, numbers_in(s, "de")) == ["300"]
    s = "1955年3月2日有300人参加。"
    assert _texts(s, numbers_in(s, "zh")) == ["300"]


@pytest.mark.parametrize(
    ("code", "sentence", "dates"),
    [
        (
            "de",
            "Die Brücke wurde am 2. März 1955 eröffnet und im 19. Jahrhundert geplant.",
            ["2. März 1955", "19. Jahrhundert"],
        ),
        ("de", "In den 1920er Jahren und 44 v. Chr. ...", ["1920er", "44 v. Chr."]),
        ("es", "Se fundó el 12 de octubre de 1551 y creció en el siglo XIX.", ["12 de octubre de 1551", "siglo XIX"]),
        ("ru", "Город основан 2 марта 1955 года, а в 1960 году расширен.", ["2 марта 1955 года", "1960"]),
        ("zh", "该大学于1955年3月2日成立，19世纪时这里是农田。", ["1955年3月2日", "19世纪"]),
        ("ar", "تأسست الجامعة في 2 مارس 1955 ومارس الطب فيها كثيرون.", ["2 مارس 1955"]),
        ("hi", "स्थापना 2 मार्च 1955 को हुई और १९६० में विस्तार हुआ।", ["2 मार्च 1955", "१९६०"]),
    ],
)
def test_dates_as_written(code: str, sentence: str, dates: list[str]) -> None:
    assert _texts(sentence, dates_in(sentence, code)) == dates


@pytest.mark.parametrize(
    ("code", "question", "sentence", "short"),
    [
        (
            "de",
            "Wie viele Einwohner hatte die Stadt im Jahr 1900?",
            "Im Jahr 1900 lebten dort rund 45.000 Menschen.",
            "45.000",
        ),
        ("de", "Wie lang ist der Fluss?", "Der Fluss ist 1.230 Kilometer lang.", "1.230 Kilometer"),
        ("de", "In welchem Jahr wurde die Brücke eröffnet?", "Die Brücke wurde am 2. März 1955 eröffnet.", "1955"),
        ("de", "Wann wurde die Brücke eröffnet?", "Die Brücke wurde am 2. März 1955 eröffnet.", "2. März 1955"),
        ("es", "¿Cuántos habitantes tiene la ciudad?", "La ciudad tiene 1,2 millones de habitantes.", "1,2 millones"),
        ("es", "¿En qué año se fundó la universidad?", "La universidad se fundó el 12 de octubre de 1551.", "1551"),
        ("ru", "Сколько студентов учится в университете?", "В университете учится около 30 000 студентов.", "30 000"),
        ("ru", "В каком году был основан город?", "Город был основан 2 марта 1955 года.", "1955"),
        ("zh", "这座城市有多少人？", "这座城市在2010年有3000人。", "3000"),
        ("zh", "这座城市有多少居民？", "这座城市在2010年有3000人。", "3000人"),
        ("zh", "公司有几个工厂？", "公司在德国有三个工厂。", "三"),
        ("zh", "大学是哪一年成立的？", "该大学于1955年3月2日成立。", "1955年"),
        ("ar", "كم عدد سكان المدينة؟", "يبلغ عدد سكان المدينة ١٬٢٠٠٬٠٠٠ نسمة.", "١٬٢٠٠٬٠٠٠"),
        ("ar", "في أي عام تأسست الجامعة؟", "تأسست الجامعة في 2 مارس 1955 في القاهرة.", "1955"),
        ("hi", "शहर में कितने लोग रहते हैं?", "शहर में लगभग ३५,००० लोग रहते हैं।", "३५,०००"),
        ("hi", "विश्वविद्यालय की स्थापना कब हुई?", "विश्वविद्यालय की स्थापना 2 मार्च 1955 को हुई थी।", "2 मार्च 1955"),
    ],
)
def test_short_answer_span(code: str, question: str, sentence: str, short: str) -> None:
    analyser = Analyser.of(code)
    span = short_answer_in(question, sentence, 0.5, analyser)
    assert span is not None
    assert sentence[span[0] : span[1]] == short
    assert shortest_span_in(question, sentence, analyser) == span


def test_the_number_nearest_the_questions_words_wins() -> None:
    analyser = Analyser.of("de")
    s = "Das Gymnasium zählt 1.200 Schüler, die Grundschule im Nachbarort dagegen nur 800."
    c = choose_span_in("Wie viele Schüler hat das Gymnasium?", s, analyser)
    assert c is not None and s[c.start : c.end] == "1.200" and c.rivals == 1
    assert short_answer_in("Wie viele Schüler hat das Gymnasium?", s, 0.5, analyser) == (c.start, c.end)


def test_no_short_answer_without_a_candidate_or_when_it_only_repeats_the_question() -> None:
    de = Analyser.of("de")
    assert short_answer_in("Wie viele Schüler hat die Schule?", "Die Schule ist sehr groß.", 0.5, de) is None
    assert short_answer_in("Was geschah 1955?", "Im Jahr 1955 wurde die Brücke eröffnet.", 0.5, de) is None
    assert short_answer_in("Wann wurde 1955 die Brücke eröffnet?", "1955 wurde die Brücke eröffnet.", 0.5, de) is None


def test_rivals_about_as_near_hide_the_short_answer() -> None:
    # Two years, neither near the question's words: a guess, not shown.
    zh = Analyser.of("zh")
    s = "1950年和1960年都有。"
    choice = choose_span_in("大学什么时候扩建？", s, zh)
    assert choice is not None and choice.rivals == 1
    assert short_answer_in("大学什么时候扩建？", s, 0.2, zh) is None
