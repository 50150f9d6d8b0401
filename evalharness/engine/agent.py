"""The multi-step agent loop: answer the model's tool calls with scripted results until it stops.

A case with `tool_results` runs here. Each turn is one chat completion (cached like any other
request). Tool calls are answered by name from `tool_results`: a string is returned every time,
a list is consumed call by call, and a tool with no result gets an error message the model can
read. The loop ends when the model answers without a tool call, or after `max_turns` turns.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from evalharness.engine.client import Completion

DEFAULT_MAX_TURNS = 8

Complete = Callable[[dict[str, Any]], Awaitable[Completion]]


class ScriptedTools:
    def __init__(self, results: dict[str, str | list[str]]):
        self._fixed = {k: v for k, v in results.items() if isinstance(v, str)}
        self._queues = {k: list(v) for k, v in results.items() if isinstance(v, list)}

    def answer(self, name: str) -> str:
        if name in self._fixed:
            return self._fixed[name]
        if name in self._queues:
            if self._queues[name]:
                return self._queues[name].pop(0)
            return f"error: no more scripted results for tool '{name}'"
        known = ", ".join(sorted([*self._fixed, *self._queues])) or "none"
        return f"error: tool '{name}' is not available (available tools: {known})"


def _first_turn_only(choice: Any) -> bool:
    """A tool_choice that forces one function would force it on every turn: the loop could never end."""
    return isinstance(choice, dict) or choice == "required"


async def run_agent(complete: Complete, body: dict[str, Any], results: dict, max_turns: int | None) -> tuple[Completion, list[dict]]:
    """Returns (a Completion summing all turns, the full transcript)."""
    tools = ScriptedTools(results)
    messages = list(body["messages"])
    calls: list[dict] = []
    total = Completion(output="", input_tokens=0, output_tokens=0, latency_ms=0.0, attempts=0)
    turns = max_turns or DEFAULT_MAX_TURNS
    cached = True
    for turn in range(turns):
        req = {**body, "messages": messages}
        if turn > 0 and _first_turn_only(body.get("tool_choice")):
            req["tool_choice"] = "auto"
        c = await complete(req)
        cached = cached and c.cached
        total.latency_ms += c.latency_ms or 0.0
        total.ttft_ms = total.ttft_ms if total.ttft_ms is not None else c.ttft_ms
        for k in ("input_tokens", "output_tokens"):
            v = getattr(c, k)
            setattr(total, k, None if v is None or getattr(total, k) is None else getattr(total, k) + v)
        total.attempts += c.attempts
        if c.error is not None:
            total.error = f"turn {turn + 1}: {c.error}"
            break
        if not c.tool_calls:
            messages.append({"role": "assistant", "content": c.output})
            total.output, total.finish_reason = c.output, c.finish_reason
            break
        # Give every call an id, and send content as a string: llama-cpp-python rejects `null`
        # (HTTP 500) and its chat formatters fail on a missing key; "" is accepted everywhere.
        turn_calls = [{**call, "id": call.get("id") or f"call_{turn}_{i}"} for i, call in enumerate(c.tool_calls)]
        messages.append({"role": "assistant", "content": c.output or "", "tool_calls": turn_calls})
        for call in turn_calls:
            calls.append(call)
            name = (call.get("function") or {}).get("name") or ""
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": tools.answer(name)})
    else:
        total.output, total.finish_reason = "", "max_turns"
    total.tool_calls = calls or None
    total.cached = cached
    total.extra["turns"] = sum(1 for m in messages if m["role"] == "assistant")
    return total, messages
