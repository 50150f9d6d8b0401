"""The policy's rails over the slots of a request and of a (non-streamed) response: the one place where
each rule (block, redact, flag, require_refusal, non_text_parts) is applied. Streams apply the same rails
through stream.py."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import orjson

from evalharness.guard.policy import LoadedPolicy, Rail
from evalharness.guard.slots import request_slots, response_slots
from evalharness.scorers.safety import detect_refusal


@dataclass(frozen=True)
class Block:
    rail: str
    stage: str
    detail: str


class Rails:
    """The policy's rails over request and response slots: the one place each rule is applied."""

    def __init__(self, loaded: LoadedPolicy):
        self.policy, self.input, self.output = loaded.policy, loaded.input_rails, loaded.output_rails

    def check_input(self, body: dict, record) -> tuple[Block | None, Rail | None]:
        """Runs the input rails over every slot (redacting in place). Returns (block, require_refusal rail)."""
        slots, media = request_slots(body)
        if media and self.policy.non_text_parts == "block":
            kinds = ", ".join(sorted({m.kind for m in media}))
            b = Block("non_text_parts", "input", f"non-text content ({kinds}) at {media[0].where}")
            record("input", b.rail, "block", "block", b.detail)
            return b, None
        must_refuse = None
        for rail in self.input:
            for slot in slots:
                if not rail.applies_to(slot.role):
                    continue
                tripped, why = rail.trips(slot.text)
                if not tripped:
                    continue
                why = f"{slot.where}: {why}"
                if rail.action == "block":
                    record("input", rail.name, "block", "block", why)
                    return Block(rail.name, "input", why), None
                if rail.action == "redact":
                    slot.set(rail.redact(slot.text))
                    record("input", rail.name, "redact", "redact", why)
                elif rail.action == "require_refusal":
                    if must_refuse is None:
                        record("input", rail.name, "require_refusal", "flag", f"{slot.where}: answer must be a refusal")
                    must_refuse = must_refuse or rail
                else:
                    record("input", rail.name, "flag", "flag", why)
        return None, must_refuse

    def check_output(self, doc: dict, must_refuse: Rail | None, record) -> Block | None:
        """Runs the output rails over every slot of every choice (redacting in place)."""
        slots, media = response_slots(doc)
        if media and self.policy.non_text_parts == "block":
            b = Block("non_text_parts", "output", f"non-text answer ({media[0].kind}) at {media[0].where}")
            record("output", b.rail, "block", "block", b.detail)
            return b
        if must_refuse is not None:
            for ch in doc["choices"]:
                msg = ch["message"]
                content = msg.get("content") if isinstance(msg.get("content"), str) else ""
                refused = not (msg.get("tool_calls") or msg.get("function_call")) and (
                    bool(isinstance(msg.get("refusal"), str) and msg["refusal"].strip()) or detect_refusal(content)[0])
                if not refused:
                    why = "topic requires a refusal; the upstream answered"
                    record("output", must_refuse.name, "require_refusal", "block", why)
                    return Block(must_refuse.name, "output", why)
        changed: set[int] = set()
        for rail in self.output:
            for slot in slots:
                if not rail.applies_to_field(slot.where.rsplit(".", 1)[-1]):
                    continue
                tripped, why = rail.trips(slot.text)
                if not tripped:
                    continue
                why = f"{slot.where}: {why}"
                if rail.action == "block":
                    record("output", rail.name, "block", "block", why)
                    return Block(rail.name, "output", why)
                if rail.action == "redact":
                    slot.set(rail.redact(slot.text))
                    changed.add(slot.choice)
                    record("output", rail.name, "redact", "redact", why)
                else:
                    record("output", rail.name, "flag", "flag", why)
        for i, ch in enumerate(doc["choices"]):
            if ch.get("index", i) in changed and ch.get("logprobs") is not None:
                ch["logprobs"] = None  # the tokens would show what was redacted
        return None

    def logged_prompt(self, body: dict) -> str | None:
        """With log_prompts: the messages as forwarded, every input redaction applied (also when blocked)."""
        if not self.policy.log_prompts:
            return None
        msgs = {"messages": copy.deepcopy(body["messages"])}
        slots, _ = request_slots(msgs)
        for rail in self.input:
            if rail.action == "redact":
                for slot in slots:
                    if rail.applies_to(slot.role):
                        slot.set(rail.redact(slot.text))
        return orjson.dumps(msgs["messages"]).decode()
