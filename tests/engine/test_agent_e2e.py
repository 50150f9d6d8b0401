"""The multi-step agent loop and tool calls end to end, against the scripted server process."""

import json

import pandas as pd

from tests.conftest import write

TOOLS = """\
tools:
  - {type: function, function: {name: search_flights, parameters: {type: object, properties: {destination: {type: string}}}}}
  - {type: function, function: {name: book_flight, parameters: {type: object, properties: {flight_id: {type: string}}, required: [flight_id]}}}
  - {type: function, function: {name: send_email, parameters: {type: object, properties: {to: {type: string}, body: {type: string}}}}}
  - {type: function, function: {name: get_weather, parameters: {type: object, properties: {city: {type: string}}, required: [city]}}}
  - {type: function, function: {name: ping, parameters: {type: object, properties: {}}}}
"""

SUITE = TOOLS + """\
name: agent
category: tool_calling
cases:
  - id: trip
    input: "SCRIPT:trip Book the cheapest flight to Oslo and email me."
    tool_results:
      search_flights: '{"flights": [{"id": "SK1", "price": 120}, {"id": "DY2", "price": 99}]}'
      book_flight: '{"confirmation": "ABC123"}'
      send_email: '{"ok": true}'
    max_turns: 6
    scorers:
      - {type: trajectory, expected: [search_flights, book_flight, send_email], order: strict}
      - {type: tool_args, call: book_flight, arguments: {flight_id: "DY2"}}
      - {type: contains, value: ABC123, name: final_answer}
  - id: forever
    input: "SCRIPT:forever"
    tool_results: {ping: [pong1, pong2]}
    max_turns: 3
    scorers: [{type: trajectory, expected: [ping, ping, ping]}]
  - id: unknown-tool
    input: "SCRIPT:unknown"
    tool_results: {ping: pong}
    scorers: [{type: contains, value: "not available"}]
  - id: parallel
    input: 'CALLS=[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]'
    expected_tool_calls:
      - {name: get_weather, arguments: {city: [Oslo]}}
      - {name: get_weather, arguments: {city: [paris]}}
    scorers: [{type: tool_call}]
  - id: no-call-wanted
    input: 'CALLS=[{"name": "ping", "arguments": {}}]'
    expected_tool_calls: []
    scorers: [{type: tool_call}]
  - id: no-call-made
    input: "REPLY=hello"
    expected_tool_calls: []
    scorers: [{type: tool_call}]
"""


def _run(tmp_path, cli, server, *extra):
    s = write(tmp_path / "agent.yaml", SUITE)
    out = tmp_path / f"r{len(list(tmp_path.glob('r*')))}"
    r = cli("run", str(s), "--base-url", server.base_url, "--model", "m", "--cache-dir", str(tmp_path / "cache"),
            "--out", str(out), *extra)
    (run,) = list(out.iterdir())
    return r, pd.read_parquet(run / "responses.parquet").set_index("case_id"), pd.read_parquet(run / "scores.parquet")


def test_agent_loop(tmp_path, cli, fault_server):
    r, resp, scores = _run(tmp_path, cli, fault_server)
    assert r.returncode == 0, r.stderr
    verdict = scores.groupby("case_id")["passed"].all()
    assert verdict.to_dict() == {"trip": True, "forever": True, "unknown-tool": True, "parallel": True,
                                 "no-call-wanted": False, "no-call-made": True}

    trip = resp.loc["trip"]
    transcript = json.loads(trip["messages"])
    roles = [m["role"] for m in transcript]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]
    tool_msgs = [m for m in transcript if m["role"] == "tool"]
    assert json.loads(tool_msgs[1]["content"]) == {"confirmation": "ABC123"}  # scripted result delivered
    assert tool_msgs[0]["tool_call_id"] == transcript[1]["tool_calls"][0]["id"]
    assert trip["output"] == "Booked, confirmation ABC123" and trip["finish_reason"] == "stop"
    assert [c["function"]["name"] for c in json.loads(trip["tool_calls"])] == ["search_flights", "book_flight", "send_email"]
    assert trip["output_tokens"] == 9 * 3 + 3  # summed over the four turns

    forever = resp.loc["forever"]
    assert forever["finish_reason"] == "max_turns" and len(json.loads(forever["tool_calls"])) == 3
    contents = [m["content"] for m in json.loads(forever["messages"]) if m["role"] == "tool"]
    assert contents == ["pong1", "pong2", "error: no more scripted results for tool 'ping'"]

    assert "tool 'delete_everything' is not available (available tools: ping)" in resp.loc["unknown-tool", "output"]
    reason = scores.set_index("case_id").loc["no-call-wanted", "reason"]
    assert reason == "expected no tool call, got ping"


def test_agent_turns_are_cached(tmp_path, cli, fault_server):
    r1, resp1, _ = _run(tmp_path, cli, fault_server)
    asked = fault_server.stats()["script"]
    r2, resp2, _ = _run(tmp_path, cli, fault_server)
    assert fault_server.stats()["script"] == asked  # every turn came from the cache
    assert resp2.loc["trip", "cached"] and resp2.loc["trip", "output"] == resp1.loc["trip", "output"]


def test_recorded_tool_calls_from_dataset(tmp_path, cli):
    rows = [
        {"id": "good", "input": "weather in Paris?", "expected_tool_calls": json.dumps([{"name": "get_weather", "arguments": {"city": ["Paris"]}}]),
         "tool_calls": json.dumps([{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}])},
        {"id": "bad", "input": "weather in Rome?", "expected_tool_calls": json.dumps([{"name": "get_weather", "arguments": {"city": ["Rome"]}}]),
         "tool_calls": json.dumps([{"type": "function", "function": {"name": "get_weather", "arguments": "{\"town\": \"Rome\"}"}}])},
    ]
    write(tmp_path / "logs.jsonl", "\n".join(json.dumps(r) for r in rows))
    s = write(tmp_path / "s.yaml", TOOLS + "name: logs\ncategory: tool_calling\ndataset: logs.jsonl\nscorers: [{type: tool_call}]\n")
    out = tmp_path / "out"
    r = cli("run", str(s), "--target", "recorded", "--out", str(out))
    assert r.returncode == 0, r.stderr
    (run,) = list(out.iterdir())
    sc = pd.read_parquet(run / "scores.parquet").set_index("case_id")
    assert sc.loc["good", "passed"] and not sc.loc["bad", "passed"]
    assert "'city' is a required property" in sc.loc["bad", "reason"]
