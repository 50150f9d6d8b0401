"""A deterministic OpenAI-compatible chat server for the lm-eval bridge tests (run as its own process;
prints `PORT <n>`). The answer depends only on the request's last user message:

- "What is A op B?": the true result, said in one of several forms (so the task's regex filter and
  exact_match options matter), and wrong for some questions (so accuracy is neither 0 nor 1);
- a multiple-choice prompt (lines "A. ..."): the letter of the choice that is right per a fixed key,
  wrong for some;
- "[reply: TEXT]" in it (the held_out/ tasks): TEXT, the last one ("\\n" for a newline);
- `stop` is honoured as a real server does (the text is cut before the first stop string).
GET /__requests returns every request body received, in order (the tests compare lm-eval's with the bridge's).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.fixtures.scripted import serve

REQUESTS: list[dict] = []
RIGHT = {"Paris", "Mars", "Pacific", "Eight", "Carbon dioxide", "Water"}


def answer(body: dict) -> str:
    users = [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"]
    last = users[-1] if users else ""
    said = re.findall(r"\[reply: (.*?)\]", last, re.IGNORECASE | re.DOTALL)
    if said:  # held_out/ tasks: the document says what to answer ("\\n" for a newline)
        return said[-1].replace("\\n", "\n")
    m = re.search(r"What is (-?\d+) ([-+*/]) (-?\d+)\?", last)
    if m:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        val = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
        if (a + b) % 3 == 0:
            val += 1  # a wrong answer
        forms = [f"The answer is {val}.", f" {val}", f"{val}\n\nQuestion: next", f"I think it is {val}, so {val}."]
        return forms[(a * 7 + b) % len(forms)]
    g = re.search(r"(\w+) has (\d+) apples and buys (\d+) more", last)
    if g:  # gsm8k-style: the forms separate strict-match ("#### N") from flexible-extract (the last number)
        name, a, b = g.group(1), int(g.group(2)), int(g.group(3))
        val = a + b + (1 if a % 4 == 2 else 0)  # wrong for some
        forms = [f"{a} + {b} = {val}.\n#### {val}", f"So {name} has {val:,} apples.\n#### {val:,}",
                 f"The answer is ${val}.", f"{name} has {val} apples, {b} of them new.",
                 f"#### {val}\nThat is {val}.", f"{a} and {b} make {val}. #### {val}.", f"#### {val + 1}\nNo: {val}."]
        return forms[sum(map(ord, name)) % len(forms)]
    w = re.search(r"(Repeat|Say) the word (\w+)\.", last)
    if w:
        word = w.group(2)
        forms = [word, word.lower() + ".", " " + word, word.upper() + "!", f"{word}\nmore", "Sure: " + word]
        return forms[len(word) % len(forms)]
    choices = re.findall(r"^([A-Z])\. (.+)$", last, re.MULTILINE)
    if choices:
        right = [letter for letter, text in choices if text in RIGHT]
        pick = right[0] if right and len(last) % 4 else choices[-1][0]
        return f"The answer is {pick}." if len(last) % 2 else pick
    return "I do not know."


def completion(body: dict) -> dict:
    text = answer(body)
    for s in body.get("stop") or []:
        if s:
            text = text.split(s)[0]
    return {"id": "c1", "object": "chat.completion", "model": body.get("model", "m"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


async def handle(reader, writer) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split()[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" and path.endswith("/__requests"):
                out = json.dumps(REQUESTS).encode()
            elif method == "GET" and path.endswith("/models"):
                out = json.dumps({"data": [{"id": "scripted"}]}).encode()
            else:
                body = json.loads(raw or b"{}")
                REQUESTS.append(body)
                out = json.dumps(completion(body)).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(out)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + out)
            await writer.drain()
    except (Exception, BaseException):  # noqa: BLE001 - a closed connection ends its handler
        writer.close()


if __name__ == "__main__":
    serve(handle)
