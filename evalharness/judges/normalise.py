"""The views of an answer that the judge-manipulation check reads (judges/manipulation.py): the plain
text (entities and escapes decoded, NFKC, format characters removed), a folded view (lower case, no
accents, look-alike letters and leetspeak folded, spaced letters joined) and the texts hidden in
base64, hex, escapes, binary, rot13 or reversed."""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from urllib.parse import unquote

_HOMOGLYPHS = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ӏ": "l", "ɡ": "g", "ո": "n", "ս": "u", "һ": "h", "ь": "b", "г": "r", "п": "n", "л": "n",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u",
    # Latin look-alikes
    "ɑ": "a", "ɩ": "i", "ʀ": "r", "ɪ": "i", "ᴄ": "c", "ᴏ": "o", "ꜱ": "s", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss",
})
_HOMO_CHARS = frozenset(k for k in "авеёкмнорстухіїјѕԁԛԝӏɡոսһьгплαβεηικνορτυχγωμɑɩʀɪᴄᴏꜱᴜᴠᴡᴢ")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l",
                       "€": "e", "9": "g", "8": "b"})
_LEET_CHARS = frozenset("0134579@$|€8")
_KEYWORDS = frozenset("""score scores grade grader judge rate rating rater give this answer pass marks mark points
evaluator evaluate verdict ignore previous instructions response reply output system assign award full perfect
maximum highest top correct return rubric""".split())
FORMAT_CHARS = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                     "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]")
TOKEN = re.compile(r"[^\s,.;:!?()\[\]{}\"'<>/\\=*_~`^-]+")
_SPACED = re.compile(r"(?<![\w])(?:\w[ .\-_*·•]){2,}\w(?![\w])")
_SPACED2 = re.compile(r"(?:(?<=\s\s)|^)[^\W\d_] [^\W\d_](?=\s\s|\s*$|[.,!?])", re.MULTILINE)
SPACES = re.compile(r"[ \t\r\f\v]+")
_TAGS = re.compile("[\U000e0020-\U000e007e]")


def _fold_token(m: re.Match, latin_text: bool = False, leet_text: bool = False) -> str:
    tok = m.group(0)
    low = tok.lower()
    if any(c in _HOMO_CHARS for c in low):
        folded = low.translate(_HOMOGLYPHS)
        # A mixed-script word (`Grаder`), any look-alike in a mostly Latin text, or a word that folds to one of ours.
        if latin_text or any("a" <= c <= "z" for c in low) or folded in _KEYWORDS:
            low = folded
    if any(c in _LEET_CHARS for c in low) and (leet_text and any(c.isalpha() for c in low) or leety(low)):
        low = low.translate(LEET)
    return low


def leety(low: str) -> bool:
    """A word written in leetspeak (`sc0re`, `g1v3`, `4nsw3r`), not `mp3`, `4th` or `covid-19`."""
    letters = sum(c.isalpha() for c in low)
    leet = [i for i, c in enumerate(low) if c in _LEET_CHARS]
    inner = any(0 < i < len(low) - 1 and low[i - 1].isalpha() and low[i + 1].isalpha() for i in leet)
    if not leet or not letters or re.fullmatch(r"\d+(?:s|th|st|nd|rd|am|pm|k|m|g|kg|km|mm|cm|gb|mb|px|x|d)", low):
        return False
    return (letters >= 2 and inner) or (len(leet) >= 2 and len(low) >= 3) or low.translate(LEET) in _KEYWORDS


def _strip_marks(s: str) -> str:
    if s.isascii():
        return s
    d = unicodedata.normalize("NFKD", s)
    return unicodedata.normalize("NFC", "".join(c for c in d if not unicodedata.combining(c)))


def plain_view(text: str) -> str:
    t = text
    for _ in range(2):
        if "&" in t and ";" in t:
            t = html.unescape(t)
        if re.search(r"%[0-9A-Fa-f]{2}", t):
            t = unquote(t)
    t = unicodedata.normalize("NFKC", t)
    if _TAGS.search(t):  # Unicode tag characters: invisible, but a model reads them as the ASCII they encode
        t = _TAGS.sub(lambda m: chr(ord(m.group(0)) - 0xE0000), t)
    return FORMAT_CHARS.sub("", t)


def folded_view(plain: str) -> str:
    t = _strip_marks(plain)
    latin = sum("a" <= c <= "z" for c in t.lower())
    latin_text = latin > 2 * sum(c in _HOMO_CHARS for c in t.lower())
    leet_text = sum(leety(w) for w in TOKEN.findall(t.lower())) >= 2  # then `0f`, `0u7` are leetspeak too
    t = TOKEN.sub(lambda m: _fold_token(m, latin_text, leet_text), t).lower()
    join = lambda m: re.sub(r"[ .\-_*·•]", "", m.group(0))  # noqa: E731
    spaced_text = len(_SPACED.findall(t)) >= 2
    t = _SPACED.sub(join, t)
    if spaced_text:  # text written s p a c e d: two-letter words too (`o f`)
        t = _SPACED2.sub(join, t)
    return SPACES.sub(" ", t)


_B32 = re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{16,}={0,6}(?![A-Za-z0-9])")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2}[ :]?){6,})")
_XESC = re.compile(r"(?:\\x[0-9a-fA-F]{2}){4,}")
_BIN = re.compile(r"(?:[01]{8}[ ]?){4,}")


def _texty(b: bytes) -> str | None:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 4:
        return None
    ok = sum(c.isprintable() or c in "\n\t" for c in s)
    if ok / len(s) < 0.9 or not re.search(r"[^\W\d_]{2}", s):
        return None
    return s


def decodings(plain: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _B64.finditer(plain):
        run = m.group(0)
        if run.isalpha() and (run.islower() or run.isupper()):
            continue  # a long word, not base64
        for alt in (run, run.replace("-", "+").replace("_", "/")):
            try:
                b = base64.b64decode(alt + "=" * (-len(alt) % 4), validate=True)
            except (binascii.Error, ValueError):
                continue
            s = _texty(b)
            if s:
                out.append(("base64", s))
                break
    for m in _B32.finditer(plain):
        run = m.group(0)
        if run.isalpha():
            continue  # an upper-case word or acronym run, not base32
        try:
            s = _texty(base64.b32decode(run + "=" * (-len(run) % 8)))
        except (binascii.Error, ValueError):
            s = None
        if s:
            out.append(("base32", s))
    for m in _HEX.finditer(plain):
        digits = re.sub(r"[ :]", "", m.group(1))
        digits = digits[: len(digits) // 2 * 2]
        for cut in range(0, 9, 2):  # a run that swallowed the start of the next word ("... 2e ca|pital")
            try:
                s = _texty(bytes.fromhex(digits[: len(digits) - cut]))
            except ValueError:
                s = None
            if s:
                out.append(("hex", s))
                break
    for m in _XESC.finditer(plain):
        s = _texty(bytes.fromhex(m.group(0).replace("\\x", "")))
        if s:
            out.append(("hex", s))
    for m in _BIN.finditer(plain):
        bits = m.group(0).replace(" ", "")
        s = _texty(int(bits[: len(bits) // 8 * 8], 2).to_bytes(len(bits) // 8, "big"))
        if s:
            out.append(("binary", s))
    return out


# --- structure ------------------------------------------------------------------------------


# --- ciphers: a shifted alphabet (Caesar), rot47, words written backwards -------------------------------
_CLUE = re.compile(r"\b(?:score|scores|grade|grader|graders|grading|rating|rate|marks|answer|response|give|award|full|judge|"
                   r"evaluator|evaluation|ignore|instructions|points|verdict|rubric|pass|this|correct|maximum|highest)\b")
_ALPHA = "abcdefghijklmnopqrstuvwxyz"
_SHIFTS = [str.maketrans(_ALPHA, _ALPHA[k:] + _ALPHA[:k]) for k in range(26)]


def _clues(t: str) -> int:
    return len(set(_CLUE.findall(t)))


def ciphers(folded: str, plain: str) -> list[tuple[str, str]]:
    """Texts hidden by a letter shift (every Caesar shift but rot13, which is always read), by rot47, or by
    writing each word backwards; a reading is kept only when it has at least two words of a grading
    instruction that the text itself does not have."""
    base = _clues(folded)
    out: list[tuple[str, str]] = []
    for k in range(1, 26):
        if k == 13:
            continue
        t = folded.translate(_SHIFTS[k])
        if _clues(t) >= max(2, base + 2):
            out.append((f"caesar{26 - k}", t))
    r47 = "".join(chr(33 + (ord(c) + 14) % 94) if 33 <= ord(c) <= 126 else c for c in plain).lower()
    if _clues(r47) >= base + 1:  # rot47 turns letters into symbols: one grading word is already telling
        out.append(("rot47", r47))
    words = " ".join(w[::-1] for w in folded.split(" "))
    if _clues(words) >= max(2, base + 2):
        out.append(("reversed words", words))
    return out
