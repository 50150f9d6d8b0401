"""The lm-eval bridge: `lm_eval: {task, include_path, num_fewshot, limit}` in a suite becomes cases.

lm-eval's own machinery builds the documents and the requests: its TaskManager, the task config
(`doc_to_text`, `doc_to_target`, `doc_to_choice`, `description`, few-shot sampling with lm-eval's seed) and
`Task.build_all_requests` with the chat template that lm-eval's `local-chat-completions` model applies
(`--apply_chat_template`, few-shot as multi-turn, the default). Each case sends the very request lm-eval
sends: the same messages, and the same `max_tokens`, `temperature`, `stop` (the task's `until`, at most 4),
`seed` (1234) and other `generation_kwargs` (lm_eval/models/openai_completions.py: LocalChatCompletion).

Scoring: a `generate_until` task becomes one `lm_eval_match` scorer per (metric, filter pipeline), named
`metric,filter` as lm-eval reports them: lm-eval's own filters and exact_match run on each response
(scorers/lm_eval_metric.py), so any filter_list of registered filters and any exact_match options score
exactly as lm-eval does. The chosen filter (`lm_eval.filter`, default the first) decides; the others are
metric_only. A `multiple_choice` task is asked generatively (the choices listed with letters) and scored
by the `choice` scorer. Anything else is a configuration error.

Trust: task files are untrusted like suites. They are read with a safe YAML loader (`!function`, i.e.
Python code, is refused), every path (`include_path`, `include:`, `data_files`) stays inside the suite
root, datasets are local files only (`json`, `csv`, `parquet`, `text`; a relative `data_files` path is next
to the task file, else in the suite's folder, where lm-eval run from there reads it), and lm-eval's jinja2
templates render in evalharness's bounded sandbox. One task per suite: a group or a tag is refused.
"""

from __future__ import annotations

import functools
import json
import re
import string
from pathlib import Path
from typing import Any

import yaml

from evalharness.suite.errors import Problem
from evalharness.suite.trust import resolve_path

LM_EVAL_VERSION = "0.4.13"
INSTALL = "the `lm_eval:` key needs lm-eval: pip install -e '.[lmeval]'"
LOCAL_LOADERS = frozenset({"json", "csv", "parquet", "text"})
MAX_TASK_FILES = 2_000
MAX_LETTERS = string.ascii_uppercase
SEED = 1234  # lm-eval's default fewshot_random_seed and request seed
MC_INSTRUCTION = "Answer with the letter of the correct choice."


class TaskProblem(Exception):
    """One problem with an lm-eval task, with the file (and line) it is in."""

    def __init__(self, file: str, line: int | None, message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


class _SafeTaskLoader(yaml.SafeLoader):
    """Safe YAML for task files: `!function` (lm-eval imports Python code for it) is refused."""


def _refuse_function(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise TaskProblem(str(node.start_mark.name), node.start_mark.line + 1,
                      f"`{node.tag}` runs Python code from the task folder: not allowed (task files are "
                      "untrusted data); write the step as a jinja2 template or a field name")


_SafeTaskLoader.add_constructor("!function", _refuse_function)
_SafeTaskLoader.add_multi_constructor("!", _refuse_function)


def lmeval_cases(path: Path, src, spec, problems: list[Problem], hasher) -> list:
    """Raw cases (loc_src, loc, data, source) for the loader, from the suite's `lm_eval:` spec."""
    line = src.line(("lm_eval",))
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # local files only: nothing may download
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        problems.append(Problem(src.file, line, "lm_eval", INSTALL))
        return []
    version = _lm_eval_version()
    if version != LM_EVAL_VERSION:
        problems.append(Problem(src.file, line, "lm_eval", f"the bridge reproduces the requests of lm-eval "
                                f"{LM_EVAL_VERSION}, found {version}: pip install -e '.[lmeval]'"))
        return []
    root = src.root or path.parent
    try:
        config, task_file = _task_config(spec, path.parent, root, src, hasher)
        task = _build_task(config, spec, task_file)
        return _cases(task, spec, task_file, config)
    except TaskProblem as e:
        problems.append(Problem(e.file, e.line, "lm_eval" if e.file == src.file else "", e.message))
    return []


def _lm_eval_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return None


# ---- task files: found, read safely, paths kept inside the root ----

def _task_config(spec, base: Path, root: Path, src, hasher) -> tuple[dict, Path]:
    where = src.line(("lm_eval", "include_path")) or src.line(("lm_eval",))
    inc_dir = base
    if spec.include_path is not None:
        resolved, why = resolve_path(spec.include_path, base, root)
        if why or not resolved.is_dir():
            raise TaskProblem(src.file, where, f"include_path: {why or f'{resolved} is not a directory'}")
        inc_dir = resolved
    if spec.task.endswith((".yaml", ".yml")):
        resolved, why = resolve_path(spec.task, base, root)
        if why or not resolved.is_file():
            raise TaskProblem(src.file, src.line(("lm_eval", "task")), f"task: {why or f'{resolved} not found'}")
        task_file = resolved
    else:
        task_file = _find_task(spec.task, inc_dir, src)
        if not task_file.resolve().is_relative_to(root.resolve()):  # a symlink out of the root
            raise TaskProblem(src.file, src.line(("lm_eval", "task")), f"task file {task_file} resolves outside the "
                                                                         f"suite root {root}")
    config = _read_task(task_file, root, set(), hasher)
    config = _local_data(config, task_file, base, root, hasher)
    return config, task_file


def _find_task(name: str, inc_dir: Path, src) -> Path:
    files = sorted([*inc_dir.rglob("*.yaml"), *inc_dir.rglob("*.yml")])[:MAX_TASK_FILES]
    known, groups = [], {}
    named = re.compile(rf"(?m)^task:\s*['\"]?{re.escape(name)}['\"]?\s*$")
    for f in files:
        try:
            text = f.read_text("utf-8")
            data = yaml.load(text, Loader=_SafeTaskLoader)
        except (UnicodeDecodeError, OSError):
            continue
        except (TaskProblem, yaml.YAMLError):
            if named.search(text):  # the named task's own file: its problem is the one to report
                return f
            continue
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            known.append(data["task"])
            if data["task"] == name:
                return f
        for tag in _as_list(data.get("tag") if isinstance(data, dict) else None):  # a tag names the tasks it is on
            groups.setdefault(str(tag), []).append(str(data.get("task")))
        if isinstance(data, dict) and data.get("group") == name:
            groups.setdefault(name, []).extend(str(t.get("task") if isinstance(t, dict) else t)
                                               for t in _as_list(data.get("task")))
    if name in groups:
        raise TaskProblem(src.file, src.line(("lm_eval", "task")), f"{name!r} is a group or tag of tasks "
                          f"({', '.join(groups[name])}): the bridge runs one task; give one suite per task")
    raise TaskProblem(src.file, src.line(("lm_eval", "task")),
                      f"task {name!r} is not defined under {inc_dir} (tasks there: {', '.join(known) or 'none'}); "
                      "tasks from lm-eval's own catalogue need the network and are not loaded")


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [] if v is None else [v]


def _read_task(file: Path, root: Path, seen: set[Path], hasher) -> dict:
    if file in seen or len(seen) > 20:
        raise TaskProblem(str(file), None, "include: a cycle, or more than 20 levels")
    seen.add(file)
    try:
        text = file.read_text("utf-8")
        data = yaml.load(text, Loader=_SafeTaskLoader)
    except TaskProblem as e:
        raise TaskProblem(str(file), e.line, e.message) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TaskProblem(str(file), mark.line + 1 if mark else None, f"invalid YAML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TaskProblem(str(file), None, f"cannot read: {e}") from None
    if not isinstance(data, dict):
        raise TaskProblem(str(file), 1, "a task file must be a mapping")
    hasher.update(text.encode())
    if "include" not in data:
        return data
    merged: dict = {}
    includes = data.pop("include")
    for inc in includes if isinstance(includes, list) else [includes]:
        resolved, why = resolve_path(str(inc), file.parent, root)
        if why:
            raise TaskProblem(str(file), _line_of(text, "include"), f"include: {why}")
        merged.update({k: v for k, v in _read_task(resolved, root, seen, hasher).items() if k != "task_list"})
    return {**merged, **data}


def _local_data(config: dict, task_file: Path, base: Path, root: Path, hasher) -> dict:
    text = task_file.read_text("utf-8")
    if "group" in config or isinstance(config.get("task"), list):
        raise TaskProblem(str(task_file), _line_of(text, "group") or _line_of(text, "task"), "a group of tasks (or a "
                          "task list): the bridge runs one task; give one suite per task")
    if config.get("dataset_path") not in LOCAL_LOADERS:
        raise TaskProblem(str(task_file), _line_of(text, "dataset_path"),
                          f"dataset_path {config.get('dataset_path')!r}: only local files can be read "
                          f"({', '.join(sorted(LOCAL_LOADERS))} with `dataset_kwargs.data_files`, e.g. "
                          "`dataset_path: json`); a folder or a hub dataset name is not read (the hub needs the network)")
    for key in ("custom_dataset", "process_docs", "process_results", "doc_to_image", "doc_to_audio"):
        if config.get(key) is not None:
            raise TaskProblem(str(task_file), _line_of(text, key), f"`{key}` is not supported by the bridge")
    kwargs = dict(config.get("dataset_kwargs") or {})
    files = kwargs.get("data_files")
    if not files:
        raise TaskProblem(str(task_file), _line_of(text, "dataset_kwargs"), "dataset_kwargs.data_files is required")
    extra = set(kwargs) - {"data_files"}
    if extra:
        raise TaskProblem(str(task_file), _line_of(text, "dataset_kwargs"),
                          f"dataset_kwargs: only data_files is supported (not {', '.join(sorted(extra))})")

    def one(v: Any) -> str:
        if not isinstance(v, str) or "://" in v:
            raise TaskProblem(str(task_file), _line_of(text, "data_files"), f"data_files: {v!r} must be a local path")
        resolved, why = resolve_path(v, task_file.parent, root)
        if not why and not resolved.is_file() and task_file.parent != base:  # lm-eval reads it relative to its
            resolved, why = resolve_path(v, base, root)  # working directory: here, the suite's folder
        if why or not resolved.is_file():
            raise TaskProblem(str(task_file), _line_of(text, "data_files"), f"data_files: {why or f'{resolved} not found'}")
        hasher.update(resolved.read_bytes())
        return str(resolved)

    if isinstance(files, dict):
        files = {str(k): [one(x) for x in v] if isinstance(v, list) else one(v) for k, v in files.items()}
    else:
        files = [one(x) for x in files] if isinstance(files, list) else one(files)
    config = dict(config)
    config["dataset_kwargs"] = {"data_files": files}
    return config


def _line_of(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(f"{key}:"):
            return n
    return None


# ---- lm-eval builds the task and its requests ----

@functools.lru_cache(maxsize=1)
def _sandbox_lm_eval_templates() -> None:
    """lm-eval renders `doc_to_text` & co. with a module-level jinja2 Environment; make it evalharness's
    bounded sandbox with the same settings (StrictUndefined, trailing newline kept, `regex_replace`)."""
    from jinja2 import BaseLoader, StrictUndefined
    from lm_eval import utils

    from evalharness.suite.render import render
    from evalharness.suite.sandbox import BoundedEnvironment

    env = BoundedEnvironment(loader=BaseLoader, undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters["regex_replace"] = utils.regex_replace
    compiled = functools.lru_cache(maxsize=256)(env.from_string)

    def apply_template(template: str, doc: dict) -> str:  # lm_eval.utils.apply_template, with time and size bounds
        if _BUDGET:
            return _BUDGET[0].render(compiled(template), doc)
        return render(compiled(template), doc)

    utils.env = env
    utils.apply_template = apply_template


_BUDGET: list = []  # the RenderBudget of the task being built (all its renders share it)


def _build_task(config: dict, spec, task_file: Path):
    import contextlib
    import io

    from evalharness.suite.render import RenderBudget

    _sandbox_lm_eval_templates()
    _BUDGET[:] = [RenderBudget()]
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # lm-eval's and datasets' progress bars
            return _load_and_build(config, spec, str(task_file))
    finally:
        _BUDGET.clear()


def _load_and_build(config: dict, spec, file: str):
    import logging

    for name in ("lm-eval", "lm_eval"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from lm_eval.tasks import TaskManager

    try:
        tm = TaskManager(include_defaults=False, verbosity="ERROR")
        tasks = tm.load([config])["tasks"]
        (task,) = tasks.values()
        if spec.num_fewshot is not None and task.get_config("num_fewshot") != 0:
            task.set_config(key="num_fewshot", value=spec.num_fewshot)
        elif task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=SEED)
        task.build_all_requests(limit=spec.limit, rank=0, world_size=1, apply_chat_template=True,
                                fewshot_as_multiturn=spec.fewshot_as_multiturn, chat_template=_chat_template)
    except TaskProblem:
        raise
    except Exception as e:  # noqa: BLE001 - lm-eval and datasets raise anything on a bad task
        raise TaskProblem(file, None, f"lm-eval could not build task {config.get('task')!r}: {type(e).__name__}: {e}") from None
    return task


def _chat_template(chat_history: list[dict], add_generation_prompt: bool = True) -> str:
    """What lm-eval's API models do with the chat history (TemplateAPI.apply_chat_template without a
    tokenizer): the messages as JSON, sent as they are."""
    return json.dumps(chat_history, ensure_ascii=False)


def _payload_params(gen_kwargs: dict) -> dict:
    """The generation params lm-eval's local-chat-completions puts in the body (LocalChatCompletion._create_payload)."""
    kw = dict(gen_kwargs or {})
    kw.pop("do_sample", None)
    max_tokens = kw.pop("max_tokens") if "max_tokens" in kw else kw.pop("max_gen_toks", 256)
    temperature = kw.pop("temperature", 0)
    until = kw.pop("until", None)
    stop = [until] if isinstance(until, str) else until if isinstance(until, list) else []
    if until is not None and not (isinstance(until, (str, list)) and all(isinstance(u, str) for u in stop)):
        from evalharness.scorers.lm_eval_metric import NotMappable

        raise NotMappable(f"generation_kwargs.until {until!r}: must be a string or a list of strings")
    return {"max_tokens": max_tokens, "temperature": temperature, "stop": stop[:4], "seed": SEED, **kw}


# ---- requests → cases ----

def _cases(task, spec, task_file: Path, config: dict) -> list:
    from evalharness.scorers.lm_eval_metric import NotMappable, scorer_specs
    from evalharness.suite.yamlsrc import Located

    out_type = task.OUTPUT_TYPE
    file = str(task_file)
    loc_src = Located(file, None, hide_prefix=2)
    by_doc: dict[int, list] = {}
    for inst in task.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    if out_type == "generate_until":
        try:
            specs = scorer_specs(task.config, spec.filter)
        except NotMappable as e:
            raise TaskProblem(file, None, str(e)) from None
    elif out_type == "multiple_choice":
        if task.get_config("num_fewshot"):
            raise TaskProblem(file, None, "multiple_choice with num_fewshot > 0: the few-shot answers are choice "
                                          "texts, not letters; use num_fewshot: 0 for the generative mapping")
        if task.multiple_input:
            raise TaskProblem(file, None, "multiple_choice with several inputs (doc_to_text gives the index of the "
                                          "right context, as in winogrande): the choices are not answers; not supported")
        specs = []
    else:
        raise TaskProblem(file, None, f"output_type {out_type!r}: only generate_until and multiple_choice can be "
                                      "asked of a chat endpoint")
    out = []
    for doc_id in sorted(by_doc):
        try:  # lm-eval's doc_to_target & co. on each document: any failure is the task's problem, named
            data = _doc_case(task, doc_id, sorted(by_doc[doc_id], key=lambda i: i.idx), specs, file)
        except TaskProblem as e:
            raise TaskProblem(e.file, e.line, f"document {doc_id}: {e.message}") from None
        except NotMappable as e:
            raise TaskProblem(file, None, f"document {doc_id}: {e}") from None
        except Exception as e:  # noqa: BLE001 - lm-eval and the task's templates raise anything on a bad document
            raise TaskProblem(file, None, f"document {doc_id}: {type(e).__name__}: {e}") from None
        loc_src.lines[("doc", doc_id)] = None
        out.append((loc_src, ("doc", doc_id), data, f"{file}:doc {doc_id}"))
    if not out:
        raise TaskProblem(file, None, "the task has no documents")
    return out


def _doc_case(task, doc_id: int, insts: list, specs: list[dict], file: str) -> dict:
    from evalharness.scorers.lm_eval_metric import lm_eval_gold

    doc, messages = insts[0].doc, json.loads(insts[0].args[0])
    base = {"id": f"doc-{doc_id}", "metadata": {"lm_eval_task": task.task_name, "doc_id": doc_id}}
    if task.OUTPUT_TYPE != "generate_until":
        return {**base, **_mc_case(task, doc, messages, file)}
    gold, multiple = lm_eval_gold(task, doc)
    choices = doc.get("choices") if isinstance(doc, dict) else None
    extra = {"choices": [str(c) for c in choices]} if isinstance(choices, list) and any(
        st["function"] == "multi_choice_regex" for sp in specs for st in sp["filter"]) else {}
    scorers = [{**sp, "target": gold, "multiple_target": multiple, **extra} for sp in specs]
    return {**base, "messages": messages, "expected": gold, "params": _payload_params(insts[0].args[1]),
            "scorers": scorers}


def _mc_case(task, doc: dict, messages: list[dict], file: str) -> dict:
    choices = task.doc_to_choice(doc)
    if not isinstance(choices, list) or not 2 <= len(choices) <= len(MAX_LETTERS):
        raise TaskProblem(file, None, f"doc_to_choice must give 2-{len(MAX_LETTERS)} choices")
    gold = task.doc_to_target(doc)
    if isinstance(gold, str) and gold in choices:
        gold = choices.index(gold)
    if not isinstance(gold, int) or not 0 <= gold < len(choices):
        raise TaskProblem(file, None, f"doc_to_target gave {gold!r}: not one choice's index or text")
    letters = MAX_LETTERS[:len(choices)]
    listing = "\n".join(f"{letter}. {c}" for letter, c in zip(letters, choices))
    last = dict(messages[-1])
    last["content"] = f"{last['content']}\n{listing}\n{MC_INSTRUCTION}"
    return {"messages": [*messages[:-1], last], "expected": letters[gold],
            "params": {"temperature": 0, "seed": SEED},
            "scorers": [{"type": "choice", "choices": letters}]}
