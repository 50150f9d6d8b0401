"""`hf_classifier`: any local text-classification model directory (transformers), as a scorer or a rail.

The directory is one `AutoModelForSequenceClassification` can load (safetensors or a `.bin`, any
`id2label`; `problem_type: multi_label_classification` scores each label with a sigmoid, anything
else with a softmax over the labels). Nothing is downloaded: the path must be a local directory
(resolved inside the suite root by suite/loader like every `suite_path` argument; a file in it that
links outside it is refused, but for a Hugging Face cache snapshot's links to its own `blobs/`), it is
loaded with `local_files_only=True` and `trust_remote_code=False`, and `HF_HUB_OFFLINE=1` is set (unless
set already) before transformers is first imported. Labels missing from config.json (transformers leaves
the default LABEL_0, LABEL_1 out) are those defaults.

Binding checks the directory's `config.json` (labels, problem type, that a label named in the suite
exists, with did-you-mean) and then loads the model, once per process (cache keyed by the resolved
path); every problem is a configuration error at the suite's line. A model whose classification head
was not in the files (transformers would initialise it at random) is refused.

Verdict: `expect: present` passes when the model predicts `label` (the top label of a single-label
model; P >= 0.5 for a multi-label one), and the score is P(label); `expect: absent` passes when it does
not, and the score is 1 - P(label). So the generic `threshold:` is always on the "good" side: with an
injection model, `label: INJECTION, expect: absent, threshold: 0.9` passes text the model is at least
90% sure is not an injection. `text:` chooses what is classified: the answer (`output`), the last user
message (`input`) or the pair (input, output) for an NLI model (premise = input, hypothesis = output).

Inference is batched: the scorer is async, and concurrent calls on one event loop are collected by a
per-model micro-batcher (up to `batch_size` texts, or `batch_wait_ms` after the first; while a batch
is running the next one keeps filling) and run as one forward pass in the model's own worker thread,
off the event loop. Text is truncated to the model's maximum length (and `max_length`). `sync()` runs
one text directly, for callers without an event loop (BoundScorer.score_sync, guard rails).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import math
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from evalharness.scorers.base import Sample, Score, ScorerArgs, scorer
from evalharness.scorers.bind import ScorerConfigError

INSTALL = "pip install -e '.[hf]'"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 10_000
CHARS_PER_TOKEN = 64  # text beyond max_length * this many characters is cut before tokenising (bounded work)
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer",
                               "data2vec-text", "bart"})  # position ids start after padding_idx
Item = str | tuple[str, str]


class HFClassifierArgs(ScorerArgs):
    model: str = Field(..., min_length=1, json_schema_extra={"suite_path": True},
                       description="a local model directory (relative to the suite file, inside the suite root)")
    label: str = Field(..., min_length=1, description="a label of the model's id2label")
    expect: Literal["present", "absent"] = Field(
        ..., description="present: pass when the model predicts `label` (score P(label)); absent: pass when it "
                         "does not (score 1 - P(label))")
    text: Literal["output", "input", "pair"] = Field(
        "output", description="what is classified: the answer, the last user message, or (input, output) for NLI")
    batch_size: int = Field(16, ge=1, le=256, description="texts per forward pass at most")
    batch_wait_ms: float = Field(5.0, ge=0, le=1000, description="how long a batch waits to fill")
    max_length: int | None = Field(None, ge=1, le=1_000_000, description="tokens per text at most "
                                   "(default and upper bound: the model's own maximum)")

    @field_validator("label", mode="before")
    @classmethod
    def _number_label(cls, v: Any) -> Any:  # `label: 1` in YAML: a label name, checked against id2label
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _require_libraries() -> None:
    import importlib.util

    missing = [m for m in ("transformers", "torch") if importlib.util.find_spec(m) is None]
    if missing:
        raise ScorerConfigError("type", f"hf_classifier needs {' and '.join(missing)}: {INSTALL}")


def read_labels(path: Path) -> tuple[list[str], bool]:
    """(labels by id, multi-label?) from a model directory's config.json; ScorerConfigError when it is
    not a classifier directory."""
    if not path.is_dir():
        raise ScorerConfigError("model", f"model directory not found: {path}")
    _no_escaping_links(path)
    cfg_file = path / "config.json"
    try:
        if cfg_file.stat().st_size > MAX_CONFIG_BYTES:
            raise ScorerConfigError("model", f"{cfg_file}: larger than {MAX_CONFIG_BYTES} bytes")
        cfg = json.loads(cfg_file.read_text("utf-8"))
    except FileNotFoundError:
        raise ScorerConfigError("model", f"{path} has no config.json: not a transformers model directory") from None
    except (OSError, ValueError) as e:
        raise ScorerConfigError("model", f"{cfg_file}: cannot read: {e}") from None
    if not isinstance(cfg, dict):
        raise ScorerConfigError("model", f"{cfg_file}: not a JSON object")
    if not any((path / w).is_file() for w in WEIGHTS):
        raise ScorerConfigError("model", f"{path} has no weights ({', '.join(WEIGHTS)})")
    raw = cfg.get("id2label")
    if raw is None:  # transformers (5) leaves the default LABEL_0..LABEL_{n-1} out of config.json
        n = cfg.get("num_labels", cfg.get("_num_labels", 2))
        raw = {i: f"LABEL_{i}" for i in range(n)} if isinstance(n, int) and 0 < n <= MAX_ENTRIES else {}
    try:
        pairs = sorted((int(k), v) for k, v in raw.items()) if isinstance(raw, dict) else []
    except (TypeError, ValueError):
        pairs = []
    if not pairs or [k for k, _ in pairs] != list(range(len(pairs))) or not all(isinstance(v, str) for _, v in pairs):
        raise ScorerConfigError("model", f"{cfg_file}: `id2label` must map 0..n-1 to label names")
    labels = [v for _, v in pairs]
    problem = cfg.get("problem_type")
    if problem not in (None, "single_label_classification", "multi_label_classification"):
        raise ScorerConfigError("model", f"{cfg_file}: problem_type {problem!r} is not a classification")
    multi = problem == "multi_label_classification"
    if not multi and len(labels) < 2:
        raise ScorerConfigError("model", f"{cfg_file}: one output without a multi-label problem_type is a "
                                         "regression model, not a classifier")
    return labels, multi


def _no_escaping_links(path: Path) -> None:
    """The suite root check covers the directory; a file in it that links elsewhere (a credentials file
    named config.json) would be read too, and quoted in an error: refused. One exception: a Hugging Face
    cache snapshot (`models--org--name/snapshots/<rev>/`), whose files link to that repo's own `blobs/`."""
    inside = [path]
    blobs = path.parent.parent / "blobs"
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--") and \
            blobs.is_dir() and not blobs.is_symlink():
        inside.append(blobs)
    try:
        for n, entry in enumerate(path.iterdir()):
            if n >= MAX_ENTRIES:
                raise ScorerConfigError("model", f"{path}: more than {MAX_ENTRIES} entries: not a model directory")
            if entry.is_symlink() and not any(entry.resolve().is_relative_to(d) for d in inside):
                raise ScorerConfigError("model", f"{entry} links outside the model directory: copy the file in")
    except OSError as e:
        raise ScorerConfigError("model", f"{path}: cannot list: {e.strerror or e}") from None


def check_label(label: str, labels: list[str]) -> int:
    if label in labels:
        return labels.index(label)
    close = ([f"LABEL_{label}"] if f"LABEL_{label}" in labels else [l for l in labels if l.lower() == label.lower()]
             or difflib.get_close_matches(label, labels, n=1, cutoff=0.5))  # `1` for LABEL_1, case, typos
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ScorerConfigError("label", f"unknown label '{label}'{hint}; the model's labels: {', '.join(labels)}")


class Model:
    """One loaded classifier: forward passes serialised on its lock, batches in its own thread."""

    def __init__(self, path: Path, model: Any, tokenizer: Any, labels: list[str], multi: bool):
        self.path, self.model, self.tokenizer, self.labels, self.multi = path, model, tokenizer, labels, multi
        self.limit = _max_length(tokenizer, model.config, model)
        pad, cfg_pad = getattr(tokenizer, "pad_token_id", None), getattr(model.config, "pad_token_id", None)
        # padding is exact only when the model knows the tokenizer's pad id (a GPT-style head reads the last
        # non-pad token); else each text goes alone, unpadded
        self.pads = isinstance(pad, int) and cfg_pad in (None, pad)
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="hf-classifier")
        self.batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {key: _Batcher}
        self.passes = 0  # forward passes run (tests and stats)

    def forward(self, items: list[Item], max_length: int | None = None) -> list[Any]:
        """Label probabilities of each item (a text, or a (premise, hypothesis) pair). One item's failure
        raises; in a batch, a failed pass is run again item by item and an item that still fails gets its
        exception in its place (one odd text, e.g. a BART one with an extra </s>, fails alone)."""
        pairs = [isinstance(i, tuple) for i in items]
        if any(pairs) and not all(pairs):  # one encoding per kind: a single text is not a pair with ""
            singles = iter(self.forward([i for i in items if isinstance(i, str)], max_length))
            doubles = iter(self.forward([i for i in items if isinstance(i, tuple)], max_length))
            return [next(doubles) if p else next(singles) for p in pairs]
        if len(items) > 1:
            if self.pads:
                try:
                    return self._run(items, max_length)
                except Exception:  # noqa: BLE001, S110 - retried one by one below
                    pass
            out: list[Any] = []
            for i in items:
                try:
                    out.append(self._run([i], max_length)[0])
                except Exception as e:  # noqa: BLE001 - that item's error, not the batch's
                    out.append(e)
            return out
        return self._run(items, max_length) if items else []

    def _run(self, items: list[Item], max_length: int | None) -> list[list[float]]:
        import torch

        n = min(self.limit, max_length or self.limit)
        cut = n * CHARS_PER_TOKEN
        first = [(i if isinstance(i, str) else i[0])[:cut] for i in items]
        second = [i[1][:cut] for i in items] if isinstance(items[0], tuple) else None
        with self.lock, torch.inference_mode():
            enc = self.tokenizer(first, second, truncation=True, max_length=n, padding=len(items) > 1,
                                 padding_side="right", return_tensors="pt")  # left would shift an encoder's positions
            if enc["input_ids"].shape[-1] == 0:
                raise ValueError("the text has no tokens for this model's tokenizer (empty)")
            logits = self.model(**enc).logits.float()
            probs = torch.sigmoid(logits) if self.multi else torch.softmax(logits, dim=-1)
            self.passes += 1
            return probs.tolist()

    def batcher(self, size: int, wait_s: float, max_length: int | None, pair: bool) -> _Batcher:
        loop = asyncio.get_running_loop()
        per_loop = self.batchers.setdefault(loop, {})
        key = (size, wait_s, max_length, pair)  # texts and pairs go in separate batches
        b = per_loop.get(key)
        if b is None:
            b = per_loop[key] = _Batcher(self, loop, size, wait_s, max_length)
        return b


class _Batcher:
    """Collects the items submitted on one event loop into batches of at most `size`: a batch goes when
    it is full, or `wait_s` after its first item when no forward pass is running (else when it ends)."""

    def __init__(self, model: Model, loop: asyncio.AbstractEventLoop, size: int, wait_s: float, max_length: int | None):
        self.model, self.loop, self.size, self.wait_s, self.max_length = model, loop, size, wait_s, max_length
        self.pending: list[tuple[Item, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.running = 0

    def submit(self, item: Item) -> asyncio.Future:
        fut = self.loop.create_future()
        self.pending.append((item, fut))
        if len(self.pending) >= self.size:
            self._flush()
        elif self.timer is None:
            self.timer = self.loop.call_later(self.wait_s, self._due)
        return fut

    def _due(self) -> None:
        self.timer = None
        if not self.running:
            self._flush()  # else the running pass's end sends what has gathered meanwhile

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        live = [(i, f) for i, f in self.pending if not f.done()]  # a cancelled caller's item is dropped
        self.pending = live[self.size:]
        batch = live[:self.size]
        if not batch:
            return
        self.running += 1
        task = self.loop.run_in_executor(self.model.executor, self.model.forward, [i for i, _ in batch],
                                         self.max_length)
        task.add_done_callback(lambda t: self._done(t, batch))
        if self.pending and self.timer is None:
            self.timer = self.loop.call_later(self.wait_s, self._due)

    def _done(self, task: asyncio.Future, batch: list[tuple[Item, asyncio.Future]]) -> None:
        self.running -= 1
        exc = None if task.cancelled() else task.exception()
        for k, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if task.cancelled():
                fut.cancel()
            elif exc is not None:
                fut.set_exception(exc)
            elif isinstance(r := task.result()[k], BaseException):
                fut.set_exception(r)
            else:
                fut.set_result(r)
        if self.pending and not self.running:
            self._flush()


def _max_length(tokenizer: Any, config: Any, model: Any = None) -> int:
    """The most tokens the model takes: the tokenizer's model_max_length and the position table (a
    table with a padding row numbers positions after it: RoBERTa, MPNet, XLM-R... 514 rows for 512)."""
    out = []
    for name, mod in model.named_modules() if model is not None else ():
        rows, pad = getattr(mod, "num_embeddings", None), getattr(mod, "padding_idx", None)
        if name.endswith("position_embeddings") and isinstance(rows, int) and isinstance(pad, int):
            out.append(max(1, rows - pad - 1))
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml <= 1_000_000:  # unset is a huge sentinel
        out.append(tml)
    mpe = getattr(config, "max_position_embeddings", None)
    if isinstance(mpe, int) and mpe > 0:
        pad = getattr(config, "pad_token_id", None)
        offset = (pad if isinstance(pad, int) else 1) + 1 if getattr(config, "model_type", "") in _OFFSET_POSITIONS else 0
        out.append(max(1, mpe - offset))
    return min(out) if out else 512


_MODELS: dict[Path, Model] = {}
_LOAD_LOCK = threading.Lock()


def load(path: Path) -> Model:
    """The model in `path`, loaded once per process; ScorerConfigError when it cannot be used."""
    labels, multi = read_labels(path)
    with _LOAD_LOCK:
        hit = _MODELS.get(path)
        if hit is not None:
            return hit
        _require_libraries()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import transformers
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as e:
            raise ScorerConfigError("type", f"hf_classifier: cannot import transformers ({e}): {INSTALL}") from None
        transformers.logging.disable_progress_bar()
        opts = {"local_files_only": True, "trust_remote_code": False}
        try:
            # the model first: a directory that is not a text classifier (a ViT) says so, not "no tokenizer"
            model, info = AutoModelForSequenceClassification.from_pretrained(str(path), output_loading_info=True, **opts)
            tokenizer = AutoTokenizer.from_pretrained(str(path), **opts)
        except Exception as e:  # noqa: BLE001 - a broken directory is the suite's problem, not a crash
            raise ScorerConfigError("model", f"cannot load {path}: {type(e).__name__}: {str(e)[:300]}") from None
        missing = list(info.get("missing_keys") or ())
        if missing:
            raise ScorerConfigError("model", f"{path}: weights missing from the files ({', '.join(sorted(missing)[:4])}): "
                                             "the classification head would be random; use a fine-tuned classifier")
        if len(tokenizer) <= len(set(tokenizer.all_special_ids)):
            raise ScorerConfigError("model", f"{path}: the tokenizer has no vocabulary (only special tokens): the "
                                             "directory is missing its tokenizer files (tokenizer.json, vocab.txt...)")
        if getattr(model.config, "num_labels", len(labels)) != len(labels):
            raise ScorerConfigError("model", f"{path}: the model has {model.config.num_labels} outputs for "
                                             f"{len(labels)} labels in config.json")
        model.eval()
        hit = _MODELS[path] = Model(path, model, tokenizer, labels, multi)
        return hit


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # parts: the text ones
        texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(texts) if texts else None
    return None


def input_text(s: Sample) -> str | None:
    """The last user message's text."""
    for m in reversed(s.messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return _content_text(m.get("content"))
    return None


class HFClassifier:
    """The bound scorer's callable: async (batched) for the engine, `sync` for callers without a loop."""

    def __init__(self, a: HFClassifierArgs, model: Model, index: int):
        self.a, self.model, self.index = a, model, index

    def item(self, s: Sample) -> Item | None:
        if self.a.text == "output":
            return s.output or ""
        inp = input_text(s)
        if inp is None:
            return None
        return inp if self.a.text == "input" else (inp, s.output or "")

    async def __call__(self, s: Sample) -> Score:
        item = self.item(s)
        if item is None:
            return self.no_input()
        a = self.a
        batcher = self.model.batcher(a.batch_size, a.batch_wait_ms / 1000, a.max_length, isinstance(item, tuple))
        probs = await batcher.submit(item)
        return self.verdict(probs)

    def sync(self, s: Sample) -> Score:
        item = self.item(s)
        return self.no_input() if item is None else self.verdict(self.model.forward([item], self.a.max_length)[0])

    def no_input(self) -> Score:
        return Score(0.0, False, f"hf_classifier: text '{self.a.text}' needs a user message, and the sample has none")

    def verdict(self, probs: list[float]) -> Score:
        a, labels = self.a, self.model.labels
        if len(probs) != len(labels) or not all(math.isfinite(p) for p in probs):
            return Score(0.0, False, f"hf_classifier: the model gave {len(probs)} outputs for {len(labels)} labels "
                                     "or a non-finite probability")
        p = probs[self.index]
        top = max(range(len(probs)), key=probs.__getitem__)
        present = p >= 0.5 if self.model.multi else top == self.index
        passed = present if a.expect == "present" else not present
        value = p if a.expect == "present" else 1.0 - p
        seen = f"{a.label} {'predicted' if present else 'not predicted'}: P({a.label})={p:.3f}"
        if not self.model.multi and not present:
            seen += f", top label {labels[top]} ({probs[top]:.3f})"
        return Score(value, passed, seen, {"label": a.label, "p_label": p, "top_label": labels[top]})


@scorer(
    name="hf_classifier",
    description="A local transformers text-classification model (a directory inside the suite root, nothing "
    "downloaded): passes when `label` is predicted (`expect: present`, score P(label)) or not (`expect: absent`, "
    "score 1 - P(label)); `text`: output, input or the (input, output) pair for NLI. Batched, loaded once. "
    f"Needs {INSTALL}.",
    args=HFClassifierArgs,
)
def hf_classifier(a: HFClassifierArgs):
    path = Path(a.model).expanduser()
    path = path.resolve() if path.is_absolute() else (Path.cwd() / path).resolve()  # outside a suite: trusted config
    labels, _ = read_labels(path)
    index = check_label(a.label, labels)
    _require_libraries()
    return HFClassifier(a, load(path), index)
