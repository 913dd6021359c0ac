"""Short answers in languages other than English: counts, numbers, dates and years.

English's short answers (``qa.span``) read English question grammar and English names. In another
language this module gives the answer types whose spans are script-neutral: a number (digits, with
their grouping, in ASCII, Arabic-Indic ``٠-٩``/``۰-۹``, Devanagari ``०-९`` or full-width digits,
and a few written forms) and a date or year (digits, with the language's month names). Names are
not attempted: capitalization means nothing in Chinese, Arabic or Hindi.

Per language (``FORMS``), written from knowledge of the languages, not from an evaluation set:

- the question forms that ask for a count ("wie viele", "cuántos", "сколько", "多少"/"几", "كم",
  "कितने"), for an amount or a measure ("wie viel", "wie lange", "cuánto", "कितना"), and for a date
  ("wann", "cuándo", "когда", "什么时候", "متى", "कब"), of which the year forms ("in welchem
  Jahr", "en qué año", "в каком году", "哪一年", "في أي عام", "किस वर्ष");
- the dates as written: "2. März 1955", "2 de marzo de 1955", "2 марта 1955 года", "1955年3月2日",
  "2 مارس 1955", "2 मार्च 1955", centuries ("19. Jahrhundert", "siglo XIX", "XIX век", "19世纪",
  "19वीं सदी"), eras ("v. Chr.", "a. C.", "до н. э.", "公元前", "ق.م", "ईसा पूर्व");
- the words after a number that belong to it: its scale ("3 Millionen", "3 millones", "3 миллиона",
  "3000万", "3 ملايين", "3 लाख") and percent ("%", "Prozent", "por ciento", "процентов", "٪",
  "प्रतिशत").

The span, as English's: a count question ("how many") takes the bare number with its scale; an
amount or a measure question keeps one word after it, its unit ("200 Kilometer"), unless the
question already says that word or it is a stop word. Chinese writes a measure word or a unit
right after every number ("3000人", "三个", "200公里"): it is kept when the question lacks it and
dropped when the question says it, as English drops the noun a count question names ("多少人" ->
"3000", "多少钱" -> "300万美元"); Chinese numerals count only with a measure word ("三个国家", not
"一些", and not a lone "一", which is most often the indefinite article), never after 第 (ordinal).
A Chinese year keeps its 年 ("1955年": the year as Chinese writes it); a "which year" question
takes the year of a full date ("1955年3月2日" -> "1955年"; elsewhere: "2. März 1955" -> "1955").
A number that is part of a date ("2 марта 1955 года") is not a count's candidate.

Of the candidates that say something the question does not, the one nearest the most question
words wins (``qa.span``'s closeness, the words being the collection's terms, ``qa.language``; a
Chinese character counted as ``CJK_CHAR_WIDTH`` letters, so that distances mean what they do in
English). It is shown when it is the sentence's only candidate of its type, or when English's
confidence gate (``qa.span.confidence``, ``near_tie``) is sure of it; otherwise none.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from qa.language import Analyser, bigrams
from qa.span import MIN_CONFIDENCE, Choice, Kind, Span, confidence, join_ranges, near_tie

# Any script's decimal digits: ASCII, Arabic-Indic, Extended Arabic-Indic (Persian, Urdu), Devanagari, full-width.
D = r"[0-9\u0660-\u0669\u06f0-\u06f9\u0966-\u096f\uff10-\uff19]"
# Letters of the scripts that write words with spaces: a number does not start or end inside one of their words.
_LETTER = r"(?:(?![\p{Han}\p{Hiragana}\p{Katakana}])[\p{L}\p{M}_])"
_B = rf"(?<!{_LETTER})(?<!\p{{N}})(?<!\p{{N}}[.,\u066b\u066c'’])"  # not inside a word or after a number's digit
_E = rf"(?!{_LETTER})(?!\p{{N}})(?![.,\u066b\u066c]{D})"
# A number: grouped by spaces ("1 000 000", narrow or not), or by "," "." "'" "٬", with a decimal part.
_DIGITS = rf"{D}{{1,3}}(?:[ \u00a0\u202f]{D}{{3}}(?!{D}))+(?:[.,\u066b]{D}+)?|{D}+(?:[.,\u066b\u066c'’]{D}+)*"
_WORD_END = r"(?![\p{L}\p{M}])"
_WORD_START = r"(?<![\p{L}\p{M}])"
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
# A Chinese character carries about a word: English words average about five letters with their space,
# Chinese words fewer than two characters, so a character stands for about three English letters.
CJK_CHAR_WIDTH = 3.0


@dataclass(frozen=True)
class Forms:
    """One language's question forms and written numbers and dates (regular expressions, lower case)."""

    count: str  # a count: "how many", the bare number answers
    measure: str  # an amount or a measure: "how much / long / far / old", the number keeps its unit
    date: str  # "when", "what date", "which century"
    year: str  # "which year": a full date's year answers
    months: str
    dates: str  # the language's written dates, ``{M}`` standing for its months and ``{Y}`` for a year
    era: str = ""  # before or after a year: "v. Chr."
    scale: str = ""  # after a number: "Millionen"
    percent: str = ""
    number_words: str = ""  # written numbers counted as numbers
    year_words: str = ""  # a year's own word after it in a full date ("года")


_Y = rf"{D}{{3,4}}"

FORMS: dict[str, Forms] = {
    "de": Forms(
        count=r"\bwie\s*viele[nrs]?\b|\bwelche\s+anzahl\b|\bwie\s+hoch\s+(?:ist|war)\s+die\s+(?:zahl|anzahl)\b",
        measure=r"\bwie\s*viel\b|\bwie\s+(?:lang|lange|weit|hoch|groß|alt|schwer|schnell|tief|breit|oft)\b"
        r"|\bwelche[rnms]?\s+(?:prozentsatz|anteil|betrag)\b",
        date=r"\bwann\b|\bwelche[mnrs]?\s+(?:jahr|jahres|jahrhundert|jahrzehnt|datum|tag|monat|zeitpunkt)\b",
        year=r"\bwelche[mns]?\s+jahr(?:es)?\b",
        months="januar|jänner|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember",
        dates=rf"(?:{D}{{1,2}}\.\s?)?(?:{{M}})(?:\s+{{Y}})?|{D}{{1,2}}\.\s?jahrhunderts?|{{Y}}er|{{Y}}",
        era=r"\s+(?:v\.|n\.)\s?chr\.|\s+vor\s+christus",
        scale=r"millionen|million|milliarden|milliarde|mio\.|mrd\.|tausend|hundert",
        percent=r"%|prozent",
        number_words="zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|vierzig|fünfzig"
        "|hundert|tausend|dutzend",
    ),
    "es": Forms(
        count=r"\bcuánt[oa]s\b|^\W*cuant[oa]s\b|\bqu[ée]\s+(?:n[úu]mero|cantidad)\s+de\b",
        measure=r"\bcuánt[oa]\b|^\W*cuant[oa]\b|\bqu[ée]\s+(?:porcentaje|proporci[óo]n|edad|altura|distancia|longitud|tamaño"
        r"|superficie|profundidad|cantidad|precio)\b",
        date=r"\bcuándo\b|^\W*(?:(?:desde|hasta)\s+)?cuando\b|\bqu[ée]\s+(?:año|fecha|d[íi]a|siglo|d[ée]cada|mes)\b",
        year=r"\bqu[ée]\s+año\b",
        months="enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre",
        dates=rf"(?:{D}{{1,2}}\s+de\s+)?(?:{{M}})(?:\s+de(?:l)?\s+{{Y}})?|siglo\s+[ivxlc]+\b|{{Y}}",
        era=r"\s?(?:a\.|d\.)\s?(?:de\s)?\s?c\.|\s+antes\s+de\s+cristo",
        scale=r"millones|millón|millon|mil\s+millones|mil|billones",
        percent=r"%|por\s?ciento",
        number_words="dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|veinte|treinta|cuarenta|cincuenta"
        "|cien|ciento|cientos|doscientos|trescientos|quinientos|mil|docena",
    ),
    "ru": Forms(
        count=r"\bсколько\b|\bкак(?:ое|ово)\s+(?:количество|число)\b|\bкаково\s+число\b",
        measure=r"\bкак(?:ой|ова|ов|ое|ая)\s+(?:процент|доля|длина|высота|площадь|глубина|ширина|стоимость|возраст"
        r"|численность|размер|население)\b|\bкак\s+долго\b|\bнасколько\b",
        date=r"\bкогда\b|\bкак(?:ой|ого|ом|ая|ую|ие)\s+(?:год|году|года|век|веке|века|дата|дату|числа|день|дня"
        r"|месяц|месяце|десятилетие|десятилетии)\b",
        year=r"\bкак(?:ой|ого|ом)\s+(?:год|году|года)\b",
        months="(?:январ|феврал|март|апрел|июн|июл|август|сентябр|октябр|ноябр|декабр)[а-яё]{0,2}|ма[йяе]",
        dates=rf"(?:{D}{{1,2}}\s+)?(?:{{M}})(?:\s+{{Y}})?|[ivxlc]+\s+век(?:а|е)?\b|{{Y}}-(?:х|е)\b|{{Y}}",
        era=r"\s+(?:до\s+)?н\.\s?э\.",
        scale=r"тысяч[аи]?|тыс\.|миллион(?:а|ов)?|млн|миллиард(?:а|ов)?|млрд",
        percent=r"%|процент(?:а|ов)?",
        number_words="два|две|двух|трёх|трех|три|четыре|четырёх|четырех|пять|пяти|шесть|шести|семь|семи|восемь|восьми"
        "|девять|девяти|десять|десяти|двадцать|двадцати|тридцать|сто|двести|триста|тысяча",
        year_words=r"года|г\.",
    ),
    "zh": Forms(
        count=r"多少|(?<!哪)几(?![月号點点乎何日])",
        measure=r"(?<![许很众诸较更最大繁])多[大长高远久重深宽]|百分之几|百分比|比例",
        date=r"何时|什么时候|什么时间|哪一?年|何年|哪个?年代|什么年代|哪个?世纪|几月|哪个?月|哪一?天|几号|什么日期|哪个日期",
        year=r"哪一?年|何年",
        months="",
        dates=rf"(?:公元前?)?{D}{{4}}年(?:{D}{{1,2}}月(?:{D}{{1,2}}[日号])?)?|(?:公元前?){D}{{1,4}}年"
        rf"|{D}{{1,2}}月(?:{D}{{1,2}}[日号])?|(?:公元前?)?(?:{D}{{1,2}}|[一二三四五六七八九十]+)世纪|{D}{{3,4}}年代",
        scale=r"多?[万亿]",
        percent=r"%",
    ),
    "ar": Forms(
        count=r"(?<![\p{L}\p{M}])[وف]?ب?كم(?![\p{L}\p{M}])|(?<![\p{L}\p{M}])[وف]?(?:ما|ماذا)\s+(?:هو\s+|هي\s+)?(?:عدد|نسبة)",
        measure=r"(?<![\p{L}\p{M}])[وف]?(?:ما|ماذا)\s+(?:هو\s+|هي\s+)?(?:مقدار|كمية|طول|مساحة|ارتفاع|عمق|عرض|حجم|وزن"
        r"|سعر|تكلفة|عمر)",
        date=r"(?<![\p{L}\p{M}])[وف]?متى(?![\p{L}\p{M}])|(?<![\p{L}\p{M}])[أاإ]يّ?\s+(?:عام|سنة|قرن|تاريخ|يوم|شهر|عقد)"
        r"|(?<![\p{L}\p{M}])(?:ما|ماهو)\s+(?:هو\s+)?تاريخ",
        year=r"(?<![\p{L}\p{M}])[أاإ]يّ?\s+(?:عام|سنة)",
        months="يناير|فبراير|مارس|أبريل|ابريل|إبريل|مايو|يونيو|يونيه|يوليو|يوليه|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر"
        "|نوفمبر|ديسمبر|كانون الثاني|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول|تشرين الأول|تشرين الثاني|كانون الأول",
        # A month name only with its day or its year: "مارس" is also a verb ("he practised").
        dates=rf"{D}{{1,2}}\s+(?:{{M}})(?:\s+{{Y}})?|(?:{{M}})\s+(?:(?:من\s+)?(?:عام|سنة)\s+)?{{Y}}|{{Y}}",
        era=r"\s?(?:ق\.\s?م\.?|قبل\s+الميلاد|م\.?(?![\p{L}\p{M}]))",
        scale=r"ألف|آلاف|الف|مليون|ملايين|مليار|مليارات",
        percent=r"%|٪|(?:بالمائة|بالمئة|في\s+المائة|في\s+المئة)",
        number_words="اثنان|اثنين|اثنتان|اثنتين|ثلاثة|ثلاث|أربعة|أربع|خمسة|خمس|ستة|سبعة|ثمانية|تسعة|عشرة",
    ),
    "hi": Forms(
        count=r"(?<![\p{L}\p{M}])कितन(?:े|ी|ों)(?![\p{L}\p{M}])|(?<![\p{L}\p{M}])(?:क्या|कौन\s+सी)\s+संख्या",
        measure=r"(?<![\p{L}\p{M}])कितना(?![\p{L}\p{M}])|(?<![\p{L}\p{M}])कितने\s+प्रतिशत|(?<![\p{L}\p{M}])किस\s+(?:उम्र|आयु)",
        date=r"(?<![\p{L}\p{M}])कब(?![\p{L}\p{M}])|(?<![\p{L}\p{M}])(?:किस|कौन\s+(?:से|सा|सी))\s+(?:वर्ष|साल|सन|तारीख|तिथि"
        r"|दिन|सदी|शताब्दी|महीने|महीना|दशक)(?![\p{L}\p{M}])",
        year=r"(?<![\p{L}\p{M}])(?:किस|कौन\s+(?:से|सा))\s+(?:वर्ष|साल|सन)(?![\p{L}\p{M}])",
        months="जनवरी|फ़रवरी|फरवरी|मार्च|अप्रैल|अप्रेल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर|नवंबर|नवम्बर|दिसंबर|दिसम्बर",
        dates=rf"(?:{D}{{1,2}}\s+)?(?:{{M}})(?:,?\s+{{Y}})?|{D}{{1,2}}\s?(?:वीं|वी)\s+(?:सदी|शताब्दी)|{{Y}}",
        era=r"\s+(?:ई\.\s?पू\.|ईसा\s+पूर्व|ईसवी|ईस्वी|ई\.)",
        scale=r"हज़ार|हजार|लाख|करोड़|करोड|मिलियन|बिलियन|अरब",
        percent=r"%|प्रतिशत|फ़ीसदी|फीसदी",
        number_words="दो|तीन|चार|पांच|पाँच|छह|छः|सात|आठ|नौ|दस|बीस|सौ|हज़ार|हजार",
    ),
}
# Portuguese, French and Italian: the same forms as Spanish's, in their words.
FORMS["pt"] = Forms(
    count=r"\bquant[oa]s\b|\bqual\s+o\s+n[úu]mero\s+de\b",
    measure=r"\bquant[oa]\b|\bqual\s+(?:a|o)\s+(?:porcentagem|percentagem|idade|altura|dist[âa]ncia|comprimento|tamanho"
    r"|área|profundidade|quantidade|preço)\b",
    date=r"^\W*(?:(?:desde|até|e)\s+)?quando\b|\b(?:que|qual)\s+(?:o\s+|a\s+)?(?:ano|data|dia|s[ée]culo|d[ée]cada|m[êe]s)\b",
    year=r"\b(?:que|qual)\s+(?:o\s+)?ano\b",
    months="janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro",
    dates=rf"(?:{D}{{1,2}}\s+de\s+)?(?:{{M}})(?:\s+de\s+{{Y}})?|s[ée]culo\s+[ivxlc]+\b|{{Y}}",
    era=r"\s?a\.\s?c\.|\s?d\.\s?c\.",
    scale=r"milhões|milhão|mil\s+milhões|mil|bilhões|bilhão",
    percent=r"%|por\s?cento",
    number_words="dois|duas|três|tres|quatro|cinco|seis|sete|oito|nove|dez|onze|doze|vinte|trinta|cem|cento|mil",
)
FORMS["fr"] = Forms(
    count=r"\bcombien\b|\bquel\s+(?:est\s+le\s+)?nombre\s+de\b",
    measure=r"\bquel(?:le)?\s+(?:est\s+(?:le|la)\s+)?(?:pourcentage|proportion|âge|hauteur|distance|longueur|taille|superficie"
    r"|profondeur|quantité|prix)\b",
    date=r"^\W*(?:depuis\s+)?quand\b|\bquand\s*\?|\bquel(?:le)?\s+(?:année|date|jour|siècle|décennie|mois)\b",
    year=r"\bquelle\s+année\b",
    months="janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre",
    dates=rf"(?:{D}{{1,2}}(?:er)?\s+)?(?:{{M}})(?:\s+{{Y}})?|[ivxlc]+e\s+siècle|{{Y}}",
    era=r"\s+av\.\s?j\.-?c\.|\s+avant\s+j\.-?c\.|\s+apr\.\s?j\.-?c\.",
    scale=r"millions|million|milliards|milliard|mille",
    percent=r"%|pour\s?cent",
    number_words="deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|trente|cent|mille|douzaine",
)
FORMS["it"] = Forms(
    count=r"\bquant[ie]\b|\bqual\s+è\s+il\s+numero\s+di\b",
    measure=r"\bquant[oa]\b|\bqual\s+è\s+(?:la|il|l')\s?(?:percentuale|età|altezza|distanza|lunghezza|dimensione|superficie"
    r"|profondità|quantità|prezzo)\b",
    date=r"^\W*(?:(?:da|fino\s+a|e)\s+)?quando\b|\b(?:quale|che|in\s+che)\s+(?:anno|data|giorno|secolo|decennio|mese)\b",
    year=r"\b(?:quale|che)\s+anno\b",
    months="gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre",
    dates=rf"(?:{D}{{1,2}}\s+)?(?:{{M}})(?:\s+{{Y}})?|[ivxlc]+\s+secolo|{{Y}}",
    era=r"\s?a\.\s?c\.|\s?d\.\s?c\.",
    scale=r"milioni|milione|miliardi|miliardo|mila",
    percent=r"%|per\s?cento",
    number_words="due|tre|quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|venti|trenta|cento|mille",
)

# Chinese numerals, counted only with a measure word after them (``FORMS["zh"]``).
_ZH_NUMERAL = (
    r"(?<![第〇零一二三四五六七八九十两百千万亿])"
    r"(?:[两二三四五六七八九十〇零][〇零一二三四五六七八九十两百千万亿]*|一[〇零一二三四五六七八九十百千万亿]+)"
)
# Chinese measure words and units after a number, the longest first.
ZH_UNITS = (
    "平方公里 平方千米 平方米 平方英里 立方米 公里 千米 英里 公顷 英亩 英尺 公斤 千克"
    " 美元 英镑 欧元 人民币 港元 日元 卢布 小时 分钟 个月 周年 多岁 岁 年 天 周 秒 米 吨 元"
    " 人 名 位 个 次 种 座 所 家 部 件 本 条 项 倍 度 层 场 届 支 艘 架 辆"
    " 只 头 匹 队 国 州 省 城 间 篇 首 张 台 枚 颗 块 号"
).split()
_ZH_UNIT = "|".join(ZH_UNITS)


@dataclass(frozen=True)
class _Compiled:
    count: regex.Pattern[str]
    measure: regex.Pattern[str]
    date: regex.Pattern[str]
    year: regex.Pattern[str]
    dates: regex.Pattern[str]
    number: regex.Pattern[str]
    scale: regex.Pattern[str] | None
    percent: regex.Pattern[str] | None
    year_words: regex.Pattern[str] | None


def _compile(code: str, f: Forms) -> _Compiled:
    flags = regex.IGNORECASE | regex.UNICODE
    era = f"(?:{f.era})" if f.era else ""
    # A year: three or four digits, or fewer with its era ("44 v. Chr.").
    year = rf"(?:{D}{{1,4}}{era}|{_Y}{era}?)" if f.era else _Y
    dates = f.dates.replace("{M}", f.months or "(?!)").replace("{Y}", year)
    words = rf"{_WORD_START}(?:{f.number_words}){_WORD_END}" if f.number_words else "(?!)"
    number = rf"{_B}(?:{_DIGITS}){_E}|{words}"
    if code == "zh":
        number = rf"(?<![0-9.,])(?:{_DIGITS})(?![0-9])|{_ZH_NUMERAL}(?=(?:{_ZH_UNIT}))"
        date_re = rf"{dates}"
    else:
        date_re = rf"{_B}(?:{dates}){_WORD_END}(?![.,]{D})"
    return _Compiled(
        count=regex.compile(f.count, flags),
        measure=regex.compile(f.measure, flags),
        date=regex.compile(f.date, flags),
        year=regex.compile(f.year, flags),
        dates=regex.compile(date_re, flags),
        number=regex.compile(number, flags),
        scale=regex.compile(rf"\s?(?:{f.scale}){_WORD_END if code != 'zh' else ''}", flags) if f.scale else None,
        percent=regex.compile(rf"\s?(?:{f.percent}){_WORD_END}", flags) if f.percent else None,
        year_words=regex.compile(rf"\s+(?:{f.year_words})(?![\p{{L}}\p{{M}}])", flags) if f.year_words else None,
    )


_COMPILED = {code: _compile(code, f) for code, f in FORMS.items()}
_YEAR_IN = regex.compile(rf"(?<!{D}){_Y}(?!{D})(?:年)?")
_UNIT = regex.compile(r"[ \u00a0]([\p{L}\p{M}]+[²³23]?(?:/[\p{L}]+)?|°[CF])")
_ANCHOR_WORD = regex.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[\p{{L}}\p{{M}}\p{{N}}])+")


def languages() -> list[str]:
    """The languages with short answers besides English."""
    return sorted(FORMS)


def answer_kind_in(question: str, code: str) -> Kind | None:
    """The kind of short answer a question in language ``code`` asks for: "number", "date", or None."""
    c = _COMPILED.get(code)
    if c is None:
        return None
    if c.count.search(question) or c.measure.search(question):
        return "number"
    if c.date.search(question):
        return "date"
    return None


def asks_count(question: str, code: str) -> bool:
    """Whether the question asks how many (the bare number answers) rather than how much or how long."""
    c = _COMPILED.get(code)
    return c is not None and c.count.search(question) is not None and c.measure.search(question) is None


def asks_year(question: str, code: str) -> bool:
    """Whether the question asks which year (the year of a full date answers)."""
    c = _COMPILED.get(code)
    return c is not None and c.year.search(question) is not None


def dates_in(sentence: str, code: str) -> list[Span]:
    """The dates and years written in ``sentence`` in language ``code``, in order."""
    c = _COMPILED[code]
    out: list[Span] = []
    for m in c.dates.finditer(sentence):
        end = m.end()
        if c.year_words is not None and not regex.fullmatch(rf"{_Y}", m.group()):
            # "2 марта 1955 года": a full date keeps its year's word; a bare year does not.
            w = c.year_words.match(sentence, end)
            if w is not None and regex.search(rf"{D}{{3,4}}$", m.group()):
                end = w.end()
        out.append(Span(m.start(), end))
    return out


def numbers_in(sentence: str, code: str, question: str | None = None, units: bool = False) -> list[Span]:
    """The numbers written in ``sentence`` in language ``code``, with their scale and percent, and not
    those inside a date. ``units``: with the unit after each (Chinese: its measure word or unit
    unless ``question`` says it; otherwise one word that ``question`` does not say)."""
    c = _COMPILED[code]
    dated = [s for s in dates_in(sentence, code) if not _is_bare_year(sentence[s.start : s.end])]
    out: list[Span] = []
    for m in c.number.finditer(sentence):
        if not any(ch.isalnum() for ch in m.group()) or (out and m.start() < out[-1].end):
            continue  # nothing, or a word of the previous number's scale or percent ("por ciento")
        start, end = m.start(), m.end()
        if any(d.start < end and start < d.end for d in dated):
            continue
        if c.scale is not None and (s := c.scale.match(sentence, end)):
            end = s.end()
        if c.percent is not None and (p := c.percent.match(sentence, end)):
            end = p.end()
        elif code == "zh" and question is not None:
            unit = regex.match(rf"(?:{_ZH_UNIT})", sentence[end:])
            if unit is not None and unit.group() not in question:
                end += unit.end()
        out.append(Span(start, end))
    return out


def _is_bare_year(text: str) -> bool:
    return regex.fullmatch(rf"{_Y}", text) is not None


def _candidates(question: str, sentence: str, kind: Kind, code: str, analyser: Analyser) -> list[Span]:
    """The sentence's candidates of ``kind`` that say something the question does not, ranges joined."""
    if kind == "date":
        spans = dates_in(sentence, code)
    else:
        spans = numbers_in(sentence, code, question)
    q_terms = analyser.terms(question)
    spans = [s for s in spans if not analyser.terms(sentence[s.start : s.end]) <= q_terms]
    spans = join_ranges(sentence, spans)
    if kind == "number" and code != "zh" and not asks_count(question, code):
        spans = [_with_unit(sentence, s, q_terms, analyser) for s in spans]
    return spans


def _with_unit(sentence: str, span: Span, q_terms: set[str], analyser: Analyser) -> Span:
    """A measure's number with the word after it, its unit ("200 Kilometer"), unless that word is a
    stop word or the question says it."""
    m = _UNIT.match(sentence, span.end)
    if m is None:
        return span
    word = m.group(1)
    if analyser.is_stopword(word.lower()) or (analyser.terms(word) and analyser.terms(word) <= q_terms):
        return span
    if any(ch.isdigit() for ch in word):
        return span
    return Span(span.start, m.end())


def choose_span_in(question: str, sentence: str, analyser: Analyser) -> Choice | None:
    """The number or date in ``sentence`` that answers ``question`` (both in ``analyser``'s language),
    with its evidence for ``qa.span.confidence``, or None."""
    code = analyser.language.code
    kind = answer_kind_in(question, code)
    if kind is None:
        return None
    spans = _candidates(question, sentence, kind, code, analyser)
    if not spans:
        return None
    anchors = _anchors(question, sentence, analyser)
    near = [_closeness(s, anchors, sentence) for s in spans]
    order = sorted(range(len(spans)), key=lambda i: (-near[i], spans[i].start))
    best = spans[order[0]]
    start, end = best.start, best.end
    if kind == "date" and asks_year(question, code) and not regex.fullmatch(rf"{_Y}(?:年)?", sentence[start:end]):
        # "In welchem Jahr ...?" is answered by the year of "2. März 1955", not the day and month too.
        text = sentence[start:end]
        years = list(_YEAR_IN.finditer(text))
        if len(years) == 1 and not regex.search(rf"{D}\s?[–—-]\s?{D}", text):
            y = years[0]
            start, end = start + y.start(), start + y.end()
            if code != "zh" and sentence[end - 1 : end] == "年":
                end -= 1
    margin = near[order[0]] - near[order[1]] if len(spans) > 1 else near[order[0]]
    return Choice(start, end, kind, len(spans) - 1, near[order[0]], margin, (end - start) / max(1, len(sentence)))


def shortest_span_in(question: str, sentence: str, analyser: Analyser) -> tuple[int, int] | None:
    """Offsets into ``sentence`` of the number or date that answers ``question``, shown or not."""
    c = choose_span_in(question, sentence, analyser)
    return None if c is None else (c.start, c.end)


def short_answer_in(question: str, sentence: str, evidence: float, analyser: Analyser) -> tuple[int, int] | None:
    """The short answer shown with an answer ``sentence`` in ``analyser``'s language whose score is
    ``evidence``: the sentence's only number or date of the asked type, or the one English's
    confidence gate is sure of (``qa.span.confidence`` at least ``MIN_CONFIDENCE``, no near tie)."""
    c = choose_span_in(question, sentence, analyser)
    if c is None:
        return None
    if c.rivals and (confidence(c, evidence) < MIN_CONFIDENCE or near_tie(c)):
        return None
    return (c.start, c.end)


def _anchors(question: str, sentence: str, analyser: Analyser) -> list[tuple[int, int]]:
    """Where the question's terms (the collection's analysis) are in the sentence: (offset, term number)."""
    q_terms = sorted(analyser.terms(question))
    ids = {t: i for i, t in enumerate(q_terms)}
    out: list[tuple[int, int]] = []
    for m in _ANCHOR_WORD.finditer(sentence):
        w = m.group()
        if regex.match(rf"[{_CJK}]", w):
            # The run's terms are its bigrams (qa.language), the i-th starting at its i-th character.
            out.extend((m.start() + i, ids[t]) for i, t in enumerate(bigrams(w)) if t in ids)
            continue
        for t in analyser.terms(w):
            if t in ids:
                out.append((m.start(), ids[t]))
    return out


def _closeness(span: Span, anchors: list[tuple[int, int]], sentence: str) -> float:
    """``qa.span``'s closeness (1 / (1 + distance / 10) at each question term's nearest, summed), the
    distance in English-letter widths: a Chinese character counts ``CJK_CHAR_WIDTH``."""
    nearest: dict[int, float] = {}
    for at, term in anchors:
        lo, hi = (at, span.start) if at < span.start else (span.end, at) if at >= span.end else (at, at)
        gap = sentence[lo:hi]
        d = len(gap) + (CJK_CHAR_WIDTH - 1) * len(regex.findall(rf"[{_CJK}]", gap))
        nearest[term] = min(d, nearest.get(term, d))
    return sum(1 / (1 + d / 10) for d in nearest.values())
