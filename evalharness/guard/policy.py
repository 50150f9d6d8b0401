"""Guard policy: input and output rails written exactly like suite scorers, plus an `action`.

A rail trips when its scorer does not pass (so a deny-list is `{type: regex, pattern: ..., not: true}`).
Actions: `block` (answer with the block message), `redact` (pii only: replace the matches),
`flag` (log only), and on input rails `require_refusal` (the answer must be a refusal, else it is
blocked).

Each rail also knows how much of a stream it must hold back so that no text it would match is ever
partly sent (`Rail.hold_start`):
- `literal`: canary and `contains`/`contains_any` deny-lists: the longest literal, less one character
  (counted after the scorer's own normalisation: a canary also matches with separators or re-cased);
- `bounded`: rails with a known longest match: `max_match` as declared, or the regex's own maximum width;
- `pii`: per kind (an SSN is at most 11 characters, ...); an email has no length bound, but only
  letters, digits and `._%+-@`, so the trailing run of those is held;
- `sentence`: other rails that trip on a match (a regex of unbounded width, `injection`): text is released
  only up to the last sentence end (`.`, `!` or `?` before whitespace, or a newline);
- `whole`: rails that can only judge a whole answer (json_schema, a required match, ...): the whole
  answer is held (up to `stream_max_hold_chars`, then the stream is cut);
- `none`: `flag` rails never hold: they are evaluated on the final text and logged.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from pydantic import Field, ValidationError

from evalharness.scorers.base import Sample
from evalharness.scorers.bind import BoundScorer, bind
from evalharness.scorers.safety import PII_PATTERNS, iban_ok, luhn_ok
from evalharness.suite.errors import Problem, SuiteError
from evalharness.suite.model import ScorerSpec, Strict
from evalharness.suite.yamlsrc import load_yaml, read_text

Action = Literal["block", "redact", "flag", "require_refusal"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

_UNBOUNDED = 1 << 30
_BOUNDARY = re.compile(r"[.!?](?=\s)|\n")
_NON_WORD = re.compile(r"[\W_]+")
_EMAIL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-@")  # of the pii scorer's email pattern
_LOOKAROUND = 2
_DETECTORS = frozenset({"canary", "pii", "injection", "injection_classifier"})  # trip when they find something  # characters a pii pattern may need after its match to decide it (phone: `(?![\s.-]?\d)`)


class RailSpec(ScorerSpec):
    action: Action = "block"
    max_match: int | None = Field(
        None, ge=1, description="longest text this rail can match; a stream holds back max_match-1 characters "
                                "(default: the regex's own maximum width, else whole sentences)")
    roles: list[Role] | None = Field(None, description="input rails: check only these roles (default: every role)")


class GuardPolicy(Strict):
    input_rails: list[RailSpec] = Field(default_factory=list)
    output_rails: list[RailSpec] = Field(default_factory=list)
    block_message: str = "I can't help with that: the request was blocked by a guardrail."
    auth_token_env: str | None = Field(None, description="require `Authorization: Bearer $VAR` from clients")
    upstream_api_key_env: str | None = Field(None, description="key sent to the upstream")
    forward_client_key: bool = Field(False, description="forward the client's Authorization header upstream")
    max_request_bytes: int = Field(1_000_000, ge=1)
    max_response_bytes: int = Field(16_000_000, ge=1, description="largest upstream answer read (else 502)")
    non_text_parts: Literal["block", "allow"] = Field(
        "block", description="content parts that are not text (image_url, input_audio, file, ...) and audio "
                             "answers: block the request, or forward them unchecked")
    stream_max_hold_chars: int = Field(
        16_384, ge=1, description="most text a stream may hold back per field; past it the stream is cut")
    refusal_hold_chars: int = Field(
        1_000, ge=1, description="with require_refusal, a stream is held until this many characters (or the "
                                 "end) and released only if they are a refusal")
    log_dir: str = Field("reports/guard", description="folder for the Parquet decision log")
    log_prompts: bool = Field(False, description="also log the raw prompt (off: only a hash)")
    timeout_s: float = Field(120.0, gt=0)


@functools.lru_cache(maxsize=8192)
def _squash_weight(ch: str) -> int:
    """1 when the canary scorer's normalisation keeps something of `ch` (it drops punctuation and spaces)."""
    return 1 if _NON_WORD.sub("", unicodedata.normalize("NFKC", ch).casefold()) else 0


@dataclass(frozen=True)
class Hold:
    """Where a stream must stop releasing text for one rail (see the module docstring)."""

    mode: Literal["literal", "bounded", "pii", "sentence", "whole", "none"]
    width: int = 0  # literal: longest raw literal; bounded/pii: longest match
    norm_width: int = 0  # literal: longest literal after normalisation (0: no normalised rule)
    drop_space: bool = False  # literal: whitespace may vanish in the normalisation
    drop_punct: bool = False  # literal: ASCII punctuation may vanish
    squash: bool = False  # literal: the canary's normalisation (every non-word character vanishes)
    word_run: bool = False  # pii: emails (unbounded): hold the trailing run of email characters

    def start(self, text: str, lo: int = 0) -> int:
        """The index from which `text` must be held back; never below `lo` (the previous answer)."""
        n = len(text)
        if self.mode == "none":
            return n
        if self.mode == "whole":
            return lo
        if self.mode == "sentence":
            last = None
            for last in _BOUNDARY.finditer(text, lo):
                pass
            return last.end() if last else lo
        if self.mode == "bounded":
            return max(lo, n - (self.width - 1))
        if self.mode == "pii":
            h = n - (self.width - 1 + _LOOKAROUND) if self.width else n
            if self.word_run:  # an email: only its own characters, however long
                i = n
                while i > lo and text[i - 1] in _EMAIL_CHARS:
                    i -= 1
                h = min(h, i)
            return max(lo, h)
        # literal: a match not yet complete is a proper prefix of the literal, so the text from its start
        # holds fewer than width raw characters and fewer than norm_width normalised ones.
        h = n - (self.width - 1)
        if self.norm_width:
            need, count, i = self.norm_width - 1, 0, n
            while i > lo:
                ch = text[i - 1]
                if self.squash:
                    w = _squash_weight(ch)
                else:
                    w = 0 if (self.drop_space and ch.isspace()) or (self.drop_punct and ch in string.punctuation) else 1
                if count + w > need:
                    break
                count += w
                i -= 1
            h = min(h, i)
        return max(lo, h)


@dataclass(frozen=True)
class Rail:
    name: str
    action: str
    scorer: BoundScorer
    pii_kinds: tuple[str, ...] = ()
    hold: Hold = Hold("sentence")
    roles: frozenset[str] | None = None
    type: str = ""
    detector: bool = True  # trips on something found in a text (checked in every slot), else judges an answer
    local: bool = False  # one match decides, and it needs no more context than a window (see stream.py)
    # A cheap test that is true whenever the scorer would trip (never false when it would): when it is
    # false, `trips` answers without the scorer. Built at load time (`_quick`); None: always the scorer.
    quick: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    # Verdicts of a costly deterministic scorer (the injection classifier) by text: a system prompt or
    # a tool definition that comes with every request is scored once. None: no memo.
    memo: dict[str, tuple[bool, str]] | None = field(default=None, compare=False, repr=False)

    def applies_to_field(self, where: str) -> bool:
        """Output rails: a detector checks every text; a rail that judges an answer (json_schema, a
        required match, length, ...) checks each choice's `content` only."""
        return self.detector or where == "content"

    def trips(self, text: str) -> tuple[bool, str]:
        if self.quick is not None and not self.quick(text):
            return False, ""  # the scorer would pass: `quick` is a necessary condition of a trip
        memo = self.memo
        if memo is not None and len(text) <= _MEMO_TEXT_CHARS:
            hit = memo.get(text)
            if hit is None:
                if len(memo) >= _MEMO_ENTRIES:
                    memo.clear()
                s = self.scorer.score_sync(Sample(case_id="guard", output=text))
                hit = memo[text] = ((not s.passed), s.reason)
            return hit
        s = self.scorer.score_sync(Sample(case_id="guard", output=text))
        return (not s.passed), s.reason

    def applies_to(self, role: str | None) -> bool:
        return self.roles is None or role in self.roles

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """PII matches as (start, end, kind), the same ones `find_pii` reports, without overlaps."""
        found = []
        for kind in pii_kinds_possible(self.pii_kinds or tuple(PII_PATTERNS), text):
            for m in PII_PATTERNS[kind].finditer(text):
                val = m.group(0)
                if kind == "credit_card" and not (13 <= len(d := re.sub(r"\D", "", val)) <= 19 and luhn_ok(d)):
                    continue
                if (kind == "iban" and not iban_ok(val)) or (kind == "phone" and len(re.sub(r"\D", "", val)) < 7):
                    continue
                found.append((m.start(), m.end(), kind))
        out: list[tuple[int, int, str]] = []
        for s in sorted(found, key=lambda x: (x[0], -x[1])):
            if not out or s[0] >= out[-1][1]:
                out.append(s)
        return out

    def redact(self, text: str) -> str:
        for start, end, kind in reversed(self.spans(text)):
            text = text[:start] + f"[REDACTED:{kind}]" + text[end:]
        return text


_MEMO_TYPES = frozenset({"injection", "injection_classifier", "hf_classifier"})  # deterministic, and costly enough to remember
_MEMO_ENTRIES = 1024  # texts remembered per rail, then the memo starts again (at most ~32 MB)
_MEMO_TEXT_CHARS = 8192  # longer texts are scored each time
_NON_DIGIT = re.compile(r"\D+")  # \D: the complement of Unicode \d, as the pii patterns use
# What each pii pattern cannot match without (see scorers/safety.py PII_PATTERNS): its fewest digits (an SSN
# has 9, a card 13, a phone 8: 2+3+3, an IPv4 address 4, an IBAN 2), and a literal `@` (email), `-`
# (SSN) or `.` (IPv4).
_PII_MIN_DIGITS: dict[str, int] = {"email": 0, "phone": 8, "credit_card": 13, "ssn": 9, "iban": 2, "ipv4": 4}
_PII_NEEDS: dict[str, str] = {"email": "@", "ssn": "-", "ipv4": "."}


def pii_kinds_possible(kinds, text: str) -> list[str]:
    """The kinds among `kinds` whose pattern could match `text`; a kind left out cannot (a character
    count and substring tests, far cheaper than the regexes)."""
    digits = -1
    out = []
    for k in kinds:
        need = _PII_NEEDS.get(k)
        if need is not None and need not in text:
            continue
        least = _PII_MIN_DIGITS.get(k, 0)
        if least:
            if digits < 0:
                digits = len(_NON_DIGIT.sub("", text))
            if digits < least:
                continue
        out.append(k)
    return out


def _quick(spec: RailSpec, args: dict) -> Callable[[str], bool] | None:
    """A necessary condition for the rail to trip, cheaper than the scorer (see `Rail.quick`). Only for
    the plain forms whose verdict is exactly that condition: no threshold; a negated regex searched
    anywhere; a pii rail."""
    if spec.threshold is not None:
        return None
    if spec.type == "regex" and spec.negate and not args.get("fullmatch"):
        flags = (re.IGNORECASE if args.get("ignore_case") else 0) | (re.MULTILINE if args.get("multiline") else 0)
        search = re.compile(str(args.get("pattern", "")), flags).search
        return lambda text: search(text) is not None
    if spec.type == "pii" and not spec.negate:
        from evalharness.scorers.safety import find_pii

        kinds = list(args.get("kinds") or PII_PATTERNS)

        def quick(text: str) -> bool:
            possible = pii_kinds_possible(kinds, text)
            return bool(possible) and bool(find_pii(text, possible))

        return quick
    return None


def _regex_width(pattern: str, flags: int = 0) -> int | None:
    """The longest match of a regex, or None when unbounded (or unknown)."""
    try:
        import re._parser as sre_parse  # Python 3.11+

        hi = sre_parse.parse(pattern, flags).getwidth()[1]
    except Exception:  # noqa: BLE001 - a private API: fall back to sentence holds
        return None
    return hi if hi < sre_parse.MAXREPEAT else None


def _anchored(pattern: str) -> bool:
    """Whether a regex anchors at the start of the text (`^`, `\\A`): then it must see the whole text."""
    try:
        import re._constants as c
        import re._parser as sre_parse

        items = list(sre_parse.parse(pattern))
    except Exception:  # noqa: BLE001 - unknown: assume the worst
        return True
    while items:
        op, arg = items.pop()
        if op is c.AT and arg in (c.AT_BEGINNING, c.AT_BEGINNING_STRING):
            return True
        for sub in (arg if isinstance(arg, (list, tuple)) else [arg]):
            if isinstance(sub, sre_parse.SubPattern):
                items += list(sub)
            elif isinstance(sub, (list, tuple)):
                items += [x for x in sub if isinstance(x, tuple) and len(x) == 2]
                for x in sub:
                    if isinstance(x, sre_parse.SubPattern):
                        items += list(x)
    return False


def _hold_for(spec: RailSpec, args: dict) -> tuple[Hold | None, str | None]:
    """The hold rule of a rail, or a problem with `max_match`."""
    if spec.type == "canary" and not args.get("value"):
        return None, "`canary` rails need a `value` (the secret)"
    if spec.action == "flag":
        return Hold("none"), None
    if spec.type == "pii":
        kinds = args.get("kinds") or list(PII_PATTERNS)
        widths = [_regex_width(PII_PATTERNS[k].pattern) for k in kinds]
        return Hold("pii", width=max((w for w in widths if w), default=0), word_run=None in widths), None
    if spec.type == "canary":
        secret = str(args["value"])
        sq = re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", secret).casefold())
        return Hold("literal", width=len(secret), norm_width=len(sq) if len(sq) >= 6 else 0, squash=True), None
    trips_on_match = (spec.negate or spec.type in _DETECTORS
                      or (spec.type == "hf_classifier" and args.get("expect") == "absent"))
    if spec.max_match is not None:
        if not trips_on_match:
            return None, "`max_match` applies to rails that trip on a match (`not: true`, canary, pii, injection)"
        if spec.type == "regex":
            width = _regex_width(args.get("pattern", ""))
            if width is not None and width > spec.max_match:
                return None, f"`max_match` {spec.max_match} is below the pattern's longest match ({width})"
        return Hold("bounded", width=spec.max_match), None
    if not trips_on_match:
        return Hold("whole"), None
    if spec.type == "regex":
        if args.get("fullmatch"):
            return Hold("whole"), None  # judged on the whole answer
        width = _regex_width(args.get("pattern", ""), re.IGNORECASE if args.get("ignore_case") else 0)
        return (Hold("bounded", width=width) if width else Hold("sentence")), None
    if spec.type in ("contains", "contains_any") and (vals := args.get("value" if spec.type == "contains" else "values")):
        from evalharness.scorers.text import NormArgs, normalise

        vals = [str(v) for v in (vals if isinstance(vals, list) else [vals])]
        norm = NormArgs.model_validate({k: args[k] for k in NormArgs.model_fields if k in args})
        return Hold("literal", width=max(map(len, vals)), norm_width=max(len(normalise(v, norm)) for v in vals),
                    drop_space=norm.ignore_whitespace, drop_punct=norm.ignore_punctuation), None
    return Hold("sentence"), None


def _rails(specs: list[RailSpec], stage: str, file: str, src, problems: list[Problem]) -> list[Rail]:
    out = []
    for i, spec in enumerate(specs):
        loc = (f"{stage}_rails", i)
        if spec.action == "redact" and spec.type != "pii":
            problems.append(Problem(file, src.line(loc + ("action",)), f"{stage}_rails[{i}].action",
                                    "`redact` works with `pii` rails only"))
            continue
        if spec.action == "require_refusal" and stage != "input":
            problems.append(Problem(file, src.line(loc + ("action",)), f"{stage}_rails[{i}].action",
                                    "`require_refusal` is an input rail action"))
            continue
        if spec.roles is not None and stage != "input":
            problems.append(Problem(file, src.line(loc + ("roles",)), f"{stage}_rails[{i}].roles",
                                    "`roles` applies to input rails"))
            continue
        base = ScorerSpec.model_validate({k: v for k, v in spec.model_dump(by_alias=True, exclude_none=True).items()
                                          if k not in ("action", "max_match", "roles")})
        try:
            scorer = bind(base)
        except (ValidationError, ValueError, KeyError) as e:
            problems.append(Problem(file, src.line(loc), f"{stage}_rails[{i}]", str(e)))
            continue
        args = base.scorer_args()
        hold, problem = _hold_for(spec, args)
        if hold is None:
            problems.append(Problem(file, src.line(loc), f"{stage}_rails[{i}]", problem or "invalid rail"))
            continue
        name = spec.name or f"{stage}:{spec.type}"
        kinds = tuple(args.get("kinds") or ()) if spec.type == "pii" else ()
        local = spec.type in ("canary", "contains", "contains_any", "pii") or (
            spec.type == "regex" and not _anchored(str(args.get("pattern", ""))))
        out.append(Rail(name, spec.action, scorer, kinds, hold, frozenset(spec.roles) if spec.roles else None, spec.type,
                        detector=spec.negate or spec.type in _DETECTORS, local=local, quick=_quick(spec, args),
                        memo={} if spec.type in _MEMO_TYPES else None))
    return out


@dataclass(frozen=True)
class LoadedPolicy:
    policy: GuardPolicy
    input_rails: list[Rail]
    output_rails: list[Rail]


def load_policy(path: str | Path) -> LoadedPolicy:
    path = Path(path)
    if not path.is_file():
        raise SuiteError([Problem(str(path), None, "", "guard policy not found")])
    src, problems = load_yaml(read_text(path), str(path))
    if src is None or problems:
        raise SuiteError(problems)
    try:
        policy = GuardPolicy.model_validate(src.data or {})
    except ValidationError as e:
        raise SuiteError(src.problems(e)) from None
    inp = _rails(policy.input_rails, "input", str(path), src, problems)
    outp = _rails(policy.output_rails, "output", str(path), src, problems)
    if problems:
        raise SuiteError(problems)
    return LoadedPolicy(policy, inp, outp)
