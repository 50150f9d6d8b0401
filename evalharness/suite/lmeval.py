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
root, datasets are local files only (`json`, `csv`, `parquet`, `text`), and lm-eval's jinja2 templates
render in evalharness's bounded sandbox.
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
        task = _build_task(config, spec)
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
    config = _local_data(config, task_file, root, hasher)
    return config, task_file


def _find_task(name: str, inc_dir: Path, src) -> Path:
    files = sorted([*inc_dir.rglob("*.yaml"), *inc_dir.rglob("*.yml")])[:MAX_TASK_FILES]
    known = []
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
    raise TaskProblem(src.file, src.line(("lm_eval", "task")),
                      f"task {name!r} is not defined under {inc_dir} (tasks there: {', '.join(known) or 'none'}); "
                      "tasks from lm-eval's own catalogue need the network and are not loaded")


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


def _local_data(config: dict, task_file: Path, root: Path, hasher) -> dict:
    text = task_file.read_text("utf-8")
    if config.get("dataset_path") not in LOCAL_LOADERS:
        raise TaskProblem(str(task_file), _line_of(text, "dataset_path"),
                          f"dataset_path {config.get('dataset_path')!r}: only local files can be read "
                          f"({', '.join(sorted(LOCAL_LOADERS))} with `dataset_kwargs.data_files`); the HF hub "
                          "needs the network")
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


def _build_task(config: dict, spec):
    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):  # lm-eval's and datasets' progress bars
        return _build_task_quietly(config, spec)


def _build_task_quietly(config: dict, spec):
    from evalharness.suite.render import RenderBudget

    _sandbox_lm_eval_templates()
    _BUDGET[:] = [RenderBudget()]
    try:
        return _load_and_build(config, spec)
    finally:
        _BUDGET.clear()


def _load_and_build(config: dict, spec):
    import logging

    for name in ("lm-eval", "lm_eval"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from lm_eval.tasks import TaskManager

    file = str(config.get("task"))
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
        raise TaskProblem(file, None, f"lm-eval could not build task {file!r}: {type(e).__name__}: {e}") from None
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
    stop = [until] if isinstance(until, str) else list(until or [])
    return {"max_tokens": max_tokens, "temperature": temperature, "stop": stop[:4], "seed": SEED, **kw}


# ---- requests → cases ----

def _cases(task, spec, task_file: Path, config: dict) -> list:
    from evalharness.suite.yamlsrc import Located

    out_type = task.OUTPUT_TYPE
    file = str(task_file)
    loc_src = Located(file, None, hide_prefix=2)
    by_doc: dict[int, list] = {}
    for inst in task.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    if out_type == "generate_until":
        specs = _scorer_specs(task, spec, file)
    elif out_type == "multiple_choice":
        if task.get_config("num_fewshot"):
            raise TaskProblem(file, None, "multiple_choice with num_fewshot > 0: the few-shot answers are choice "
                                          "texts, not letters; use num_fewshot: 0 for the generative mapping")
        specs = []
    else:
        raise TaskProblem(file, None, f"output_type {out_type!r}: only generate_until and multiple_choice can be "
                                      "asked of a chat endpoint")
    out = []
    for doc_id in sorted(by_doc):
        insts = sorted(by_doc[doc_id], key=lambda i: i.idx)
        doc = insts[0].doc
        messages = json.loads(insts[0].args[0])
        base = {"id": f"doc-{doc_id}", "metadata": {"lm_eval_task": task.task_name, "doc_id": doc_id}}
        if out_type == "generate_until":
            gold, multiple = _gold(task, doc, file)
            choices = doc.get("choices") if isinstance(doc, dict) else None
            extra = {"choices": [str(c) for c in choices]} if isinstance(choices, list) and any(
                st["function"] == "multi_choice_regex" for sp in specs for st in sp["filter"]) else {}
            scorers = [{**sp, "target": gold, "multiple_target": multiple, **extra} for sp in specs]
            data = {**base, "messages": messages, "expected": gold,
                    "params": _payload_params(insts[0].args[1]), "scorers": scorers}
        else:
            data = {**base, **_mc_case(task, doc, messages, file)}
        loc_src.lines[("doc", doc_id)] = None
        out.append((loc_src, ("doc", doc_id), data, f"{file}:doc {doc_id}"))
    if not out:
        raise TaskProblem(file, None, "the task has no documents")
    return out


def _targets(task, doc: dict, file: str) -> list[str]:
    """lm-eval's gold for a generate_until document (ConfigurableTask.process_results)."""
    gold = task.doc_to_target(doc)
    if task.config.doc_to_choice is not None:
        choices = task.doc_to_choice(doc)
        gold = choices[gold]
    if isinstance(gold, list):
        return [str(g) for g in gold]
    if not isinstance(gold, (str, int, float)):
        raise TaskProblem(file, None, f"doc_to_target gave {type(gold).__name__}, not text")
    return [str(gold)]


EM_OPTIONS = ("regexes_to_ignore", "ignore_case", "ignore_punctuation", "ignore_numbers")


def _scorer_specs(task, spec, file: str) -> list[dict]:
    """One `lm_eval_match` scorer per (metric, filter pipeline) of the task, as lm-eval reports them
    (`metric,filter`); the chosen filter (`lm_eval.filter`, default the first) with the first metric decides,
    the others are metric_only. The filter steps and metric options are passed on as data."""
    metrics = task.config.metric_list or [{"metric": "exact_match"}]
    pipelines = task.config.filter_list or [{"name": "none", "filter": [{"function": "take_first"}]}]
    names = [str(p.get("name")) for p in pipelines]
    if spec.filter is not None and spec.filter not in names:
        raise TaskProblem(file, None, f"filter {spec.filter!r} is not in the task's filter_list ({', '.join(names)})")
    chosen = spec.filter if spec.filter is not None else names[0]
    out = []
    for m_i, m in enumerate(metrics):
        name = m.get("metric")
        if name != "exact_match":
            raise TaskProblem(file, None, f"metric {name!r}: only exact_match (per document, mean) can be scored per "
                                          "response; corpus-level metrics (bleu, chrf, ter, f1, mcc) cannot")
        if m.get("hf_evaluate") or m.get("aggregation", "mean") != "mean":
            raise TaskProblem(file, None, "exact_match: hf_evaluate and aggregations other than mean are not supported")
        extra = set(m) - {"metric", "aggregation", "higher_is_better", *EM_OPTIONS}
        if extra:
            raise TaskProblem(file, None, f"exact_match options {sorted(extra)}: lm-eval's exact_match does not take them")
        options = {k: m[k] for k in EM_OPTIONS if m.get(k) is not None}
        if isinstance(options.get("regexes_to_ignore"), str):
            raise TaskProblem(file, None, "exact_match: regexes_to_ignore must be a list")
        for pipe, pname in zip(pipelines, names):
            steps = []
            for step in pipe.get("filter") or []:
                if not isinstance(step, dict) or not isinstance(step.get("function"), str):
                    raise TaskProblem(file, None, f"filter {pname!r}: each step needs a `function` name")
                if step["function"] == "custom":
                    raise TaskProblem(file, None, f"filter {pname!r}: the `custom` filter calls a Python function "
                                                  "(`filter_fn`), which the bridge refuses")
                steps.append({"function": step["function"], "kwargs": {k: v for k, v in step.items() if k != "function"}})
            out.append({"type": "lm_eval_match", "name": f"{name},{pname}", "filter_name": pname, "filter": steps,
                        "metric": name, **options, "metric_only": not (m_i == 0 and pname == chosen)})
    return out


def _gold(task, doc: dict, file: str) -> tuple[str | list[str], bool]:
    """lm-eval's gold for the document, and its multiple_target (ConfigurableTask.process_results)."""
    targets = _targets(task, doc, file)
    multiple = bool(task.multiple_target)
    if multiple:
        return targets, True
    gold = task.doc_to_target(doc)
    if isinstance(gold, list) and task.config.doc_to_choice is None:
        raise TaskProblem(file, None, "doc_to_target gave a list for one document but not for the first "
                                      "(lm-eval decides multiple targets from the first document)")
    return targets[0], False


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
