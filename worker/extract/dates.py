"""Dates from structured values and from visible text, in many languages, without dateparser.

Everything here is regular expressions over short strings, so a page costs microseconds.
A parsed date remembers what the page actually said: date only, date and time, and the UTC
offset only when one was stated (or a time-zone abbreviation / hint supplied it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

_MONTHS: dict[str, int] = {}


def _months(*names: str) -> None:
    for i, group in enumerate(names, start=1):
        for name in group.split():
            _MONTHS[name.rstrip(".")] = i


# en, id/ms, de, fr, es, pt, it, nl, and the Nordic / Polish / Turkish forms seen on news sites.
_months("january jan januari janvier enero ene janeiro gennaio gen januar jänner jän januarie "
        "ocak stycznia styczeń januára",
        "february feb februari pebruari februar février fevrier fév fev febrero janv febbraio "
        "fevereiro şubat lutego luty",
        "march mar maret mac märz maerz mars marzo março marco mrt maart mart marca marzec",
        "april apr avril abril aprile avr apr. nisan kwietnia kwiecień",
        "may mei mai mayo maio maggio mag mayıs maja maj",
        "june jun juni juin junio junho giugno giu haziran czerwca czerwiec",
        "july jul juli julai juillet juil julio julho luglio lug temmuz lipca lipiec",
        "august aug agustus ogos août aout agosto ago augusti ağustos sierpnia sierpień",
        "september sep sept september septembre settembre set septiembre setiembre setembro "
        "eylül września wrzesień",
        "october oct oktober okt octobre octubre outubro ottobre ott ekim października "
        "październik",
        "november nov nopember novembre noviembre novembro kasım listopada listopad",
        "december dec desember dis dezember dez décembre decembre déc diciembre dic dezembro "
        "dicembre aralık grudnia grudzień")
# Russian and Ukrainian dates name the month in the genitive: "15 августа 2016", "3 січня 2024".
_months("января січня", "февраля лютого", "марта березня", "апреля квітня", "мая травня",
        "июня червня", "июля липня", "августа серпня", "сентября вересня", "октября жовтня",
        "ноября листопада", "декабря грудня")
# Month names of more news languages, from CLDR (babel) written out here, so importing costs
# nothing. Full names and genitives only, plus abbreviations no other language uses for
# another month: Croatian 'listopad' (October) is left out, Polish and Czech use it for November.
_months("ledna leden sty oca január ianuarie ian ιανουαρίου ιανουάριος ιαν يناير جانفي "
        "ژانویه जनवरी januar januára siječnja siječanj януари јануар",
        "února únor lut şub február februára febr februarie φεβρουαρίου φεβρουάριος φεβ "
        "فبراير فيفري فوریه फ़रवरी फरवरी veljače veljača февруари фебруар",
        "března březen marec március márc martie μαρτίου μάρτιος مارس آذار मार्च ožujka "
        "ožujak март",
        "dubna duben kwi nis apríla apríl április ápr aprilie απριλίου απρίλιος απρ أبريل "
        "أفريل نيسان آوریل अप्रैल travnja travanj април",
        "května květen mája máj május μαΐου μάιος μαΐ مايو ماي أيار مه मई "
        "svibnja svibanj мај",
        "června červen čvn haz júna jún június iunie ιουνίου ιούνιος ιουν يونيو جوان حزيران "
        "ژوئن जून lipnja lipanj юни",
        "července červenec čvc júla júl július iulie ιουλίου ιούλιος ιουλ يوليو جويلية "
        "تموز ژوئیه जुलाई srpnja srpanj јул",
        "srpna srpen ağu augusta augusztus αυγούστου αύγουστος αυγ أغسطس أوت آب اوت अगस्त "
        "kolovoza kolovoz avgust",
        "září eyl septembra szeptember szept septembrie σεπτεμβρίου σεπτέμβριος σεπ سبتمبر "
        "أيلول سپتامبر सितंबर सितम्बर rujna rujan septembar септември септембар",
        "října říjen eki októbra október octombrie οκτωβρίου οκτώβριος οκτ أكتوبر "
        "اکتبر अक्टूबर oktobar октомври октобар",
        "listopadu novembra noiembrie νοεμβρίου νοέμβριος νοε نوفمبر نوامبر नवंबर "
        "नवम्बर studenoga studeni novembar ноември новембар",
        "prosince prosinec decembra decembrie δεκεμβρίου δεκέμβριος δεκ ديسمبر دسامبر "
        "दिसंबर दिसम्बर prosinca prosinac decembar декември децембар")
# Levantine Arabic names of two words.
_MONTHS.update({"كانون الثاني": 1, "تشرين الأول": 10, "تشرين الثاني": 11, "كانون الأول": 12})


def _unaccented(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))


# Greek capitals drop the accents ('24 ΙΟΥΝΙΟΥ 2019'): the unaccented forms too.
_MONTHS.update({_unaccented(name): i for name, i in list(_MONTHS.items())
                if "\u0370" <= name[0] <= "\u03ff"})
#: Thai months, with which Thai pages print the Buddhist year ('24 มิถุนายน 2562', 543 ahead).
_THAI_MONTHS = ("มกราคม ม.ค.", "กุมภาพันธ์ ก.พ.", "มีนาคม มี.ค.", "เมษายน เม.ย.", "พฤษภาคม พ.ค.",
                "มิถุนายน มิ.ย.", "กรกฎาคม ก.ค.", "สิงหาคม ส.ค.", "กันยายน ก.ย.", "ตุลาคม ต.ค.",
                "พฤศจิกายน พ.ย.", "ธันวาคม ธ.ค.")
_months(*_THAI_MONTHS)
_THAI = frozenset(name.rstrip(".") for group in _THAI_MONTHS for name in group.split())
_MONTHS["januar"] = 1


def _trie_pattern(words: list[str]) -> str:
    """One regular expression for ``words`` that branches a character at a time, longest match
    first: a plain alternation of hundreds of names tries each at every position."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: dict[str, dict]) -> str:
        arms = [re.escape(char) + branch(child) for char, child in sorted(node.items()) if char]
        if not arms:
            return ""
        if "" not in node:
            return arms[0] if len(arms) == 1 else f"(?:{'|'.join(arms)})"
        if len(arms) == 1 and arms[0] == re.escape(arms[0][-1:]):
            return arms[0] + "?"
        return f"(?:{'|'.join(arms)})?"

    return branch(trie)


_MONTH_ALT = _trie_pattern(list(_MONTHS))

#: Time-zone abbreviations news sites print after a time; offsets in minutes.
TZ_ABBREVIATIONS: dict[str, int] = {
    "WIB": 420, "WITA": 480, "WIT": 540, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60,
    "CET": 60, "CEST": 120, "MEZ": 60, "MESZ": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "BST": 60, "IST": 330, "PKT": 300, "ICT": 420, "SGT": 480, "MYT": 480, "HKT": 480,
    "PHT": 480, "AWST": 480, "JST": 540, "KST": 540, "ACST": 570, "AEST": 600, "AEDT": 660,
    "NZST": 720, "NZDT": 780, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "HST": -600,
    "ET": -300, "PT": -480, "BRT": -180, "ART": -180, "SAST": 120, "EAT": 180, "WAT": 60,
}
_TZ_ALT = "|".join(sorted(TZ_ABBREVIATIONS, key=len, reverse=True))


@lru_cache(maxsize=256)
def _zone(offset: int) -> timezone:
    """The fixed zone ``offset`` minutes east of UTC (pages use a few dozen: made once each,
    not for every date compared)."""
    return timezone(timedelta(minutes=offset))


@dataclass(frozen=True, slots=True)
class PageDate:
    """A date as the page stated it; ``offset`` (minutes east of UTC) only when known."""

    year: int
    month: int
    day: int
    hour: int | None = None
    minute: int = 0
    second: int = 0
    offset: int | None = None

    def with_offset(self, offset: int | None) -> PageDate:
        if offset is None or self.offset is not None or self.hour is None:
            return self
        return PageDate(self.year, self.month, self.day, self.hour, self.minute, self.second,
                        offset)

    def shifted(self, offset: int) -> PageDate:
        """The same instant written at another UTC offset; needs a known offset and time."""
        aware = self.aware()
        if aware is None:
            return self
        local = aware.astimezone(timezone(timedelta(minutes=offset)))
        return PageDate(local.year, local.month, local.day, local.hour, local.minute,
                        local.second, offset)

    def calendar_day(self) -> date:
        return date(self.year, self.month, self.day)

    def naive(self) -> datetime:
        return datetime(self.year, self.month, self.day, self.hour or 0, self.minute,
                        self.second)

    def aware(self) -> datetime | None:
        if self.offset is None:
            return None
        return datetime(self.year, self.month, self.day, self.hour or 0, self.minute,
                        self.second, tzinfo=_zone(self.offset))

    def iso(self) -> str:
        if self.hour is None:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        aware = self.aware()
        return aware.isoformat() if aware else self.naive().isoformat()

    def iso_utc(self) -> str | None:
        aware = self.aware()
        return aware.astimezone(UTC).isoformat() if aware else None


def _valid(year: int, month: int, day: int, hour: int | None = None, minute: int = 0,
           second: int = 0, offset: int | None = None) -> PageDate | None:
    if not (1990 <= year <= 2100):
        return None
    if hour is not None and not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60):
        hour, minute, second = None, 0, 0  # a time out of range ('T99:99:99'): the day alone
    try:
        datetime(year, month, day)
    except ValueError:
        return None
    return PageDate(year, month, day, hour, minute, min(second, 59), offset)


def _offset(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip()
    if text.upper() in TZ_ABBREVIATIONS:
        return TZ_ABBREVIATIONS[text.upper()]
    m = re.fullmatch(r"(?:GMT|UTC)?\s*([+-])(\d{1,2}):?(\d{2})?", text, re.I)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > 14 * 60:
        return None
    return minutes if m.group(1) == "+" else -minutes


_ISO = re.compile(
    r"(\d{4})(?:-(\d{1,2})-(\d{1,2})|(\d{2})(\d{2}))"
    r"(?:[T ](\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?")


def parse_iso(value: str) -> PageDate | None:
    """ISO 8601 and its common sloppy forms: '2023-10-07T08:48:00.000+0700', '20231007',
    '2022-5-5 22:17:36' (unpadded, as some CMSs write JSON-LD and meta dates)."""
    if not isinstance(value, str):
        return None
    m = _ISO.search(value.strip()[:64])
    if not m:
        return None
    y, mo, d, mo_packed, d_packed, h, mi, s, tz = m.groups()
    return _valid(int(y), int(mo or mo_packed), int(d or d_packed),
                  int(h) if h is not None else None, int(mi or 0), int(s or 0), _offset(tz))


#: A bare numeric offset after a time, as RFC 2822 and CMS templates print it ('10:00:00
#: +0200'): after a space, so that a time range ('10:00-12:00') is no offset.
_NUMERIC_OFFSET = r"(?<=\s)[+-](?:0\d|1[0-4]):?[0-5]\d(?!\d)"
_TIME = (r"(?:(?P<ampm_cjk>오전|오후|上午|下午|午前|午後)\s*)?"
         r"(?P<h>\d{1,2})(?:[:.h]|\s?[時时시]\s?)(?P<mi>\d{2})(?:[分분])?"
         r"(?::(?P<s>\d{2}))?(?!\d)\s*+"
         r"(?P<ampm>[ap]\.?\s?m\.?(?![a-z]))?\s*+(?:uhr|h|hrs|horas|heures|ore|uur|"
         r")?\s*+(?:\(?(?P<tz>(?:GMT|UTC)\s*[+-]\d{1,2}(?::?\d{2})?|" + _NUMERIC_OFFSET
         + r"|(?:" + _TZ_ALT + r")(?![a-z]))\)?)?")
_SEP = r"[\s,|\-–—/·•T]*+(?:um|à|a\s+las|às|alle|om|pukul|jam|at|kl\.?|klo|o)?[\s,|\-–—/·•]*+"
_DMY_NAME = (r"(?<![\d.])(?P<d>\d{1,2})(?:\.|st|nd|rd|th|er|º)?\s*(?:de\s+|di\s+)?"
             r"(?P<mon>" + _MONTH_ALT + r")\.?,?\s*(?:de\s+|del\s+|พ\.ศ\.\s?)?(?P<y>\d{4})(?!\d)")
_MDY_NAME = (r"(?<![\w])(?P<mon>" + _MONTH_ALT + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+"
             r"(?P<y>\d{4})(?!\d)")
_YMD_NAME = r"(?P<y>\d{4})\.?\s+(?P<mon>" + _MONTH_ALT + r")\.?\s+(?P<d>\d{1,2})(?!\d)"
#: Chinese, Japanese and Korean: '2019年6月24日', '2019년 6월 24일', a weekday in brackets
#: after it ('(月)', '(월)'); and Korean '2019. 6. 24.'.
_CJK_WEEKDAY = (r"(?:\s?[(（][月火水木金土日一二三四五六월화수목금토일][)）]"
                r"|\s?(?:星期|周|週)[一二三四五六日天])?")
_YMD_CJK = (r"(?<!\d)(?P<y>\d{4})\s?[年년]\s?(?P<mo>\d{1,2})\s?[月월]\s?(?P<d>\d{1,2})(?!\d)"
            r"\s?[日일号號]?" + _CJK_WEEKDAY)
_YMD_DOTTED = r"(?<![\d.])(?P<y>\d{4})\.\s(?P<mo>\d{1,2})\.\s(?P<d>\d{1,2})\.(?!\d)" + _CJK_WEEKDAY
#: Vietnamese: '24 tháng 6 năm 2019', '24 tháng 6, 2019'.
_DMY_VI = r"(?<!\d)(?P<d>\d{1,2})\s+tháng\s+(?P<mo>\d{1,2})(?:\s+năm|,)\s+(?P<y>\d{4})(?!\d)"
_NUMERIC = r"(?<![\d/.])(?P<a>\d{1,2})[./-](?P<b>\d{1,2})[./-](?P<y>\d{4})(?![\d/])"
_YMD_NUM = (r"(?<![\d/.])(?P<y>\d{4})[./-](?P<mo>\d{1,2})[./-](?P<d>\d{1,2})(?![\d/])"
            + _CJK_WEEKDAY)

_TEXT_PATTERNS = [
    re.compile(p + r"(?:" + _SEP + _TIME + r")?", re.I)
    for p in (_DMY_NAME, _MDY_NAME, _YMD_NAME, _YMD_NUM, _YMD_DOTTED, _NUMERIC)
]
#: Dates whose month a word in another script marks (月, 월, tháng): only text that is not
#: ASCII can hold them, so ASCII text skips them.
_MARKED_PATTERNS = [re.compile(p + r"(?:" + _SEP + _TIME + r")?", re.I)
                    for p in (_YMD_CJK, _DMY_VI)]
#: Time before date, e.g. "08:48 WIB, 7 Oktober 2023" or "14:05 Uhr, 12.03.2024".
_TIME_FIRST = [re.compile(_TIME + r"[\s,|\-–—]*+" + p.replace("(?P<", "(?P<x"), re.I)
               for p in (_DMY_NAME, _NUMERIC)]

_RELATIVE_UNITS = {
    "minutes": ("menit minit minute minutes min mins minuten minuti minutos dakika"),
    "hours": ("jam hour hours hr hrs stunde stunden heure heures hora horas ora ore uur saat"),
    "days": ("hari day days tag tagen jour jours día días dia dias giorno giorni dag dagen gün"),
    "weeks": ("minggu pekan week weeks woche wochen semaine semaines semana semanas "
              "settimana settimane"),
}
_UNIT = {w: unit for unit, words in _RELATIVE_UNITS.items() for w in words.split()}
_UNIT_ALT = "|".join(sorted(_UNIT, key=len, reverse=True))
_RELATIVE = re.compile(
    r"(?:(?:vor|il\s+y\s+a|hace|há|ha)\s+)?(?P<n>\d{1,3}|an?|one|satu|se)\s+(?P<u>" + _UNIT_ALT
    + r")\b\s*(?:yang\s+)?(?:lalu|ago|fa|geleden|önce|lepas)?", re.I)
_RELATIVE_MARKERS = ("lalu", "ago", "fa", "geleden", "önce", "lepas", "vor", "il y a", "hace",
                     "há", "ha ")
#: Whether a lower-cased text holds any marker: one search, half the time of a test per marker.
_RELATIVE_MARKER = re.compile("|".join(re.escape(w) for w in _RELATIVE_MARKERS))


_CJK_AMPM = {"오전": "am", "上午": "am", "午前": "am", "오후": "pm", "下午": "pm", "午後": "pm"}


def _ampm(marker: str | None) -> str:
    """'am', 'pm' or '' for a printed 'a.m.', 'PM', '오후', '下午'…"""
    if not marker:
        return ""
    return _CJK_AMPM.get(marker) or marker.lower().replace(".", "").replace(" ", "")


def _from_match(m: re.Match[str], prefix: str = "", dmy: bool = True) -> PageDate | None:
    g = {k[len(prefix):]: v for k, v in m.groupdict().items() if k.startswith(prefix)
         and v is not None} if prefix else {k: v for k, v in m.groupdict().items()
                                            if v is not None}
    year = int(g["y"])
    if "mon" in g:
        name = g["mon"].lower().rstrip(".")
        month, day = _MONTHS.get(name), int(g["d"])
        if month is None:
            return None
        if name in _THAI and year > 2400:
            year -= 543
    elif "mo" in g:  # year first: always year, month, day, also on US pages
        month, day = int(g["mo"]), int(g["d"])
    else:
        a, b = int(g["a"]), int(g["b"])
        if a > 12:
            day, month = a, b
        elif b > 12:
            month, day = a, b
        else:
            day, month = (a, b) if dmy else (b, a)
    hour = minute = second = None
    offset = None
    if "h" in g:
        hour, minute, second = int(g["h"]), int(g["mi"]), int(g.get("s") or 0)
        ampm = _ampm(g.get("ampm") or g.get("ampm_cjk"))
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        offset = _offset(g.get("tz"))
    return _valid(year, month, day, hour, minute or 0, second or 0, offset)


#: A digit in any script: a text without one prints no date (only a relative one, 'an
#: hour ago').
DIGIT = re.compile(r"\d")
#: Every text pattern needs a year 1990–2100 (``_valid``); the lookahead finds overlapping ones.
_YEAR = re.compile(r"(?=(?:19|20|21)\d\d)")
#: Thai pages count Buddhist years, 543 ahead: 2533–2643 for 1990–2100.
_YEAR_OR_BUDDHIST = re.compile(r"(?=(?:19|20|21|25|26)\d\d)")
#: How far a match may start before its year and end after it: the longest forms are a time
#: with its zone before the date ("08:48 WIB, 7 Oktober 2023") and one after it.
_BEFORE_YEAR, _AFTER_YEAR = 120, 120


#: Arabic-Indic, Persian, Devanagari and full-width digits, read as ASCII ones.
_DIGIT_ZEROS = (0x660, 0x6F0, 0x966, 0xFF10)
_ASCII_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)}
_OTHER_DIGIT = re.compile("[" + "".join(f"{chr(z)}-{chr(z + 9)}" for z in _DIGIT_ZEROS) + "]")


def year_windows(text: str, before: int = _BEFORE_YEAR, after: int = _AFTER_YEAR,
                 buddhist: bool = False) -> list[tuple[int, int]]:
    """Stretches of ``text`` that can hold a date: from ``before`` characters ahead of each
    plausible year (``buddhist``: also a Buddhist-era one) to ``after`` past its end, merged
    when they touch."""
    windows: list[tuple[int, int]] = []
    if "19" not in text and "20" not in text and "21" not in text and not (
            buddhist and ("25" in text or "26" in text)):
        return windows  # no year's first two digits: spares the pattern's scan
    for m in (_YEAR_OR_BUDDHIST if buddhist else _YEAR).finditer(text):
        start, end = max(0, m.start() - before), m.start() + 4 + after
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def parse_text_date(text: str, *, month_first: bool = False, limit: int = 2000,
                    numeric: bool = True) -> PageDate | None:
    """The first date (with its time and zone when printed next to it) in a short text.

    ``month_first`` resolves 03/04/2024 as March 4 (US pages); otherwise day first.
    ``numeric=False`` accepts only dates with a named month.
    """
    # One space between words: fewer ways for the optional separators to match.
    text = " ".join(text[:limit].split())
    ascii_only = text.isascii()
    if not ascii_only and _OTHER_DIGIT.search(text):
        text = text.translate(_ASCII_DIGITS)
    # This runs on many paragraphs and long page texts: the patterns (a large alternation of
    # month names) only scan the stretches around a plausible year, and none without one.
    windows = year_windows(text, buddhist=not ascii_only)
    if not windows:
        return None
    dmy = not month_first
    best: tuple[int, PageDate] | None = None
    patterns = _TEXT_PATTERNS if numeric else _TEXT_PATTERNS[:3]
    for pattern in patterns if ascii_only else patterns + _MARKED_PATTERNS:
        found = None
        for start, end in windows:
            if best is not None and start >= best[0]:
                break
            for m in pattern.finditer(text, start, end):
                found = _from_match(m, dmy=dmy)
                if found is not None:
                    if best is None or m.start() < best[0]:
                        best = (m.start(), found)
                    break
            if found is not None:
                break
    for pattern in _TIME_FIRST if numeric else _TIME_FIRST[:1]:
        m2 = next((m for start, end in windows if (m := pattern.search(text, start, end))),
                  None)
        if m2 is not None and (best is None or m2.start() <= best[0]):
            date = _from_match(m2, "x", dmy=dmy)
            if date is not None:
                best = (m2.start(), PageDate(date.year, date.month, date.day,
                                             *_from_match_time(m2)))
    return best[1] if best else None


#: How many printed dates ``prints_day`` reads before it gives up: an archive or listing page
#: prints hundreds, and none of them tells its story's own day apart.
_MOST_DATES_READ = 300


def prints_day(text: str, day: date) -> bool:
    """Whether ``text`` prints ``day`` in a form the parsers read, either numeric order
    ('03/04/2024' counts as March 4 and as 3 April): only the stretches around its year are
    read, and at most ``_MOST_DATES_READ`` dates."""
    year = str(day.year)
    windows: list[tuple[int, int]] = []
    at = text.find(year)
    while at >= 0:
        start, end = max(0, at - 60), at + 64
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
        at = text.find(year, at + 4)
    budget = _MOST_DATES_READ
    for start, end in windows:
        window = " ".join(text[start:end].split())
        for pattern in _TEXT_PATTERNS:
            for m in pattern.finditer(window):
                budget -= 1
                if budget < 0:
                    return False
                for dmy in (True, False):
                    found = _from_match(m, dmy=dmy)
                    if found is not None and found.calendar_day() == day:
                        return True
    return False


_SHORT_YEAR = re.compile(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{2})(?![\d.])"
                         r"(?:" + _SEP + _TIME + r")?", re.I)


def parse_short_year_date(text: str) -> PageDate | None:
    """'23.09.22' or '28.09.19 12:44': day.month.two-digit-year, as German, Swiss and French
    bylines print it. Only for short byline lines: elsewhere such triples are versions,
    scores or chapter numbers."""
    if "." not in text[:200]:
        return None  # the dots between the numbers are literal: spares the scan
    m = _SHORT_YEAR.search(" ".join(text[:200].split()))
    if m is None:
        return None
    found = _valid(2000 + int(m.group("y")), int(m.group("m")), int(m.group("d")))
    if found is None or m.group("h") is None:
        return found
    return PageDate(found.year, found.month, found.day, *_from_match_time(m))


def _from_match_time(m: re.Match[str]) -> tuple[int | None, int, int, int | None]:
    hour, minute = int(m.group("h")), int(m.group("mi"))
    ampm = _ampm(m.group("ampm") or m.group("ampm_cjk"))
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None, 0, 0, None
    return hour, minute, int(m.group("s") or 0), _offset(m.group("tz"))


def parse_relative(text: str, now: datetime) -> PageDate | None:
    """'2 jam yang lalu', '3 hours ago', 'vor 5 Minuten' measured back from ``now``."""
    head = text[:300]
    lowered = head.lower()
    # The marker word must be in the match, so a text without one cannot match: a cheap
    # test first, since this runs on every short paragraph.
    if _RELATIVE_MARKER.search(lowered) is None:
        return None
    m = _RELATIVE.search(head)
    if not m:
        return None
    raw = m.group(0).lower()
    if _RELATIVE_MARKER.search(raw) is None:
        return None
    n = m.group("n").lower()
    count = int(n) if n.isdigit() else 1
    then = now - timedelta(**{_UNIT[m.group("u").lower()]: count})
    offset = int(then.utcoffset().total_seconds() // 60) if then.utcoffset() is not None else None
    return PageDate(then.year, then.month, then.day, then.hour, then.minute, 0, offset)


#: A year-first date in the URL: '/2023/10/07/', '/20231007' or '/2023-10-07' opening a path
#: segment; '/2017/7/12/' (Squarespace), '-2023-10-07', '_2023_10_07' (one separator
#: throughout). (Eight bare digits after a '-' are left out: they are as often the local day
#: of a UTC time the labels keep.)
_URL_DATE = re.compile(r"(?:[/_-](20\d{2}|19\d{2})([/_-])(\d{1,2})\2(\d{1,2})|"
                       r"/(20\d{2}|19\d{2})[/-]?(\d{2})[/-]?(\d{2}))(?!\d)")


#: A month named in the path: /2024/feb/24/ (The Guardian, Washington Times), /2023/october/03/.
_URL_NAMED_DATE = re.compile(r"/(20\d{2}|19\d{2})/([a-z]{3,9})/(\d{1,2})(?=[/_-]|$)", re.I)


def parse_url_date(url: str | None) -> PageDate | None:
    """A date in the URL path (/2023/10/07/, /20231007 or /2023/oct/07/): weak evidence,
    date only."""
    if not url:
        return None
    for m in _URL_DATE.finditer(url):
        g = m.groups()
        year, month, day = (g[0], g[2], g[3]) if g[0] else g[4:]
        found = _valid(int(year), int(month), int(day))
        if found is not None:
            return found
    for m in _URL_NAMED_DATE.finditer(urlsplit(url).path):
        month = _MONTHS.get(m.group(2).lower())
        if month is not None and (found := _valid(int(m.group(1)), month, int(m.group(3)))):
            return found
    return None


def hint_offset(tz: str | None, at: PageDate) -> int | None:
    """Offset in minutes for a timezone hint ('Asia/Jakarta' or '+07:00') at a given date."""
    if not tz:
        return None
    fixed = _offset(tz)
    if fixed is not None:
        return fixed
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        return None
    delta = at.naive().replace(tzinfo=zone).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else None


def parse_fetched_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def not_after(date: PageDate | None, limit: datetime | None) -> PageDate | None:
    """Drop dates after the fetch time (a day of slack for unknown zones)."""
    if date is None or limit is None:
        return date
    aware = date.aware()
    if aware is not None:
        return date if aware <= limit + timedelta(minutes=5) else None
    return date if date.naive() <= limit.replace(tzinfo=None) + timedelta(days=1) else None


#: UTC offsets in use (minutes): whole hours, and the few half and quarter hours.
_REAL_OFFSETS = frozenset(range(-12 * 60, 14 * 60 + 1, 60)) | {
    -570, -210, 210, 270, 330, 345, 390, 525, 570, 630, 765}


def as_printed(published: PageDate, printed: PageDate) -> PageDate:
    """A publish time re-expressed at the offset the byline prints the same instant in, so
    the date is the day the page shows: a UTC time at the local offset ('2019-10-18T22:04Z'
    under '19.10.2019, 00:04'), or the other way round, a local time the page prints in UTC
    or another zone ('2022-05-05T21:00-05:00' under '6 May 2022 - 2:00 a. m.')."""
    if published.offset is None or published.hour is None or printed.hour is None:
        return published
    minutes = (printed.naive() - published.shifted(0).naive()).total_seconds() / 60
    offset = round(minutes / 15) * 15
    if (abs(minutes - offset) >= 1 or offset not in _REAL_OFFSETS or offset == published.offset
            or printed.offset not in (None, offset)):
        return published
    return published.shifted(offset)


def zone_shifted_day(published: PageDate, day: date) -> bool:
    """Whether ``day`` is another calendar day than ``published``'s on which its instant falls
    at some UTC offset in use (-12:00 to +14:00): a disagreement that a time-zone conversion
    explains. A date without an offset is no instant, so nothing explains it."""
    aware = published.aware()
    if aware is None or day == published.calendar_day():
        return False
    utc = aware.astimezone(UTC).replace(tzinfo=None)
    return (utc - timedelta(hours=12)).date() <= day <= (utc + timedelta(hours=14)).date()


def printed_earlier(printed: PageDate, published: PageDate, modified: PageDate | None) -> bool:
    """The byline's day is at least two days before the structured publish date (one day
    apart is a time-zone matter), is not the modification day, and is not the structured
    day with month and day read the other way round."""
    if modified is not None and printed.calendar_day() == modified.calendar_day():
        return False
    if (printed.year, printed.day, printed.month) == (published.year, published.month,
                                                      published.day):
        return False  # '11/01/2021' read day first, where the page meant November 1
    return (published.calendar_day() - printed.calendar_day()).days >= 2
