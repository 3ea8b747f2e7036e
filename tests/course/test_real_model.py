"""course.use_real_model: the same crews against an OpenAI-compatible server, here a stub on 127.0.0.1.

The stub is a plain HTTP server this test starts on loopback (no other network):
it answers ``POST /v1/chat/completions`` the way OpenAI's API does and records
every request, so the test can prove that the crew's calls really went to it,
through CrewAI's own OpenAI client, with the routing and the network guard off.
The test runs in a child process: ``use_real_model`` has no way back by design.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import ROOT

CHILD = r"""
import asyncio, json, os, sys
import course
from course import offline, routing
from crewai import Agent, Crew, LLM, Process, Task

before = type(LLM(model="gpt-4o")).__name__
llm = course.use_real_model("stub-model", base_url=sys.argv[1], api_key="unused")
researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful", llm=llm)
writer = Agent(role="Writer", goal="Write clearly", backstory="Clear")  # no llm=: CrewAI's own default
tasks = [Task(description="Research the history of tea", expected_output="Notes", agent=researcher),
         Task(description="Write about the history of tea", expected_output="Article", agent=writer)]
result = asyncio.run(Crew(agents=[researcher, writer], tasks=tasks, process=Process.sequential).kickoff_async())
print(json.dumps({
    "before": before, "llm": type(llm).__name__, "writer_llm": type(writer.llm).__name__,
    "writer_model": getattr(writer.llm, "model", None), "routing": routing.is_active(),
    "blocking": offline._guard["blocking"], "outputs": [t.raw for t in result.tasks_output],
    "recorded": [t.agent for t in course.last_run().tasks],
}))
"""


class _Stub(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append({"path": self.path, "body": body})
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        role = system.split("You are ", 1)[-1].split(".", 1)[0]
        reply = {
            "id": f"chatcmpl-{len(_Stub.requests)}", "object": "chat.completion", "created": 0,
            "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"Final Answer: stub reply for {role}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def stub_server():
    _Stub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_crew_runs_against_an_openai_compatible_server_after_use_real_model(stub_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODEL"))}
    env.update(PYTHONPATH=str(ROOT), COURSE_STORAGE_DIR=str(tmp_path / "storage"), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", CHILD, stub_server], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["before"] == "ScriptedLLM"  # the course's routing was on until the switch
    assert report["routing"] is False and report["blocking"] is False
    assert report["llm"] == report["writer_llm"] == "OpenAICompletion"  # CrewAI's own client, both ways
    assert report["writer_model"] == "stub-model"
    # Both tasks' model calls reached the stub, and its answers are the crew's outputs.
    calls = [r for r in _Stub.requests if r["path"].endswith("/chat/completions")]
    assert [c["body"]["model"] for c in calls] == ["stub-model", "stub-model"]
    assert report["outputs"] == ["stub reply for Researcher", "stub reply for Writer"]
    assert report["recorded"] == ["Researcher", "Writer"]  # runs are still recorded


def test_real_models_block_routes_model_names_to_crewai_and_back(scripted_llm):
    from crewai import LLM

    import course
    from course import routing

    with course.real_models():
        inside = LLM(model="gpt-4o")
        assert not routing.is_active()
    assert type(inside).__name__ == "OpenAICompletion"
    assert routing.is_active() and isinstance(LLM(model="gpt-4o"), course.ScriptedLLM)
    with pytest.raises(RuntimeError):
        with course.real_models():
            raise RuntimeError("boom")
    assert routing.is_active()  # restored after an error too
