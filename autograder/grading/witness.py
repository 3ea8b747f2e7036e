"""The model as a witness, outside the learner's kernel (issue 11).

While a notebook is graded, the course's scripted model answers the kernel's
agents from here: a small server in the grading worker, outside the sandbox,
on a unix socket in a host folder that is mounted read-only into the sandbox
(the one channel the sandbox allows; ``sandbox.command(witness_dir=...)``).
Each call is answered with the same pure function the in-process model uses
(``course.scripted_llm.compose``), but its provenance tag is an HMAC under a
secret made for this notebook that never enters the kernel, so a tag can be
neither typed nor computed in the kernel. The witness keeps its own journal,
on its own clock (``time.monotonic`` of the worker, the clock the grader's
cell windows use): role, task, the signed tags that arrived in the context,
start and end, delegations, the thread the kernel named.
``autograder/grading/witness_rules.py`` judges each test cell on that journal.

Hostile kernels are expected: every request line, the number of calls, the
number of open channels, how long a channel may stay idle and the latency a
call may ask for are bounded; each limit hit is a plain-word ``problems``
entry, never an exception in the grader, and ``stop`` returns within seconds
whatever the kernel does.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.paths import SANDBOX_WITNESS as KERNEL_DIR  # where the sandbox sees the host folder
SOCKET_NAME = "model.sock"

_DELEGATED_TO = re.compile(r'"coworker": "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Bounds:
    """What one notebook's kernel may ask of its witness."""

    line_bytes: int = 1 << 20  # one request (the prompt travels whole; real prompts are < 50 kB)
    calls: int = 5_000  # model calls per notebook (an honest notebook makes ~300)
    channels: int = 64  # channels open at once (CrewAI runs a few tasks side by side)
    idle_seconds: float = 30.0  # a channel that sends nothing for this long is closed
    latency: float = 2.0  # the most a call may ask the model to wait (the notebooks use <= 0.12 s)
    text: int = 400  # characters of role, task and names kept per call in the journal


def _short(value: object, limit: int) -> str:
    return str(value)[:limit]


class Witness:
    """One notebook's witness: ``start()``, let the kernel call, ``stop()``, read ``journal()``."""

    def __init__(self, folder: Path, bounds: Bounds | None = None, owner: int | None = None,
                 kit: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        # Texts only the kit's own agents carry (their backstories): a call whose prompt holds one
        # is the kit's demonstration, journaled as such, never the learner's work.
        self.kit = tuple(k for k in kit if k)
        self.bounds = bounds or Bounds()
        self.owner = owner  # the sandbox's uid: the only user (besides the grader) who may connect
        self._key = os.urandom(32)  # this notebook's secret: it lives only in this object
        self._records: list[dict] = []
        self._issued: set[str] = set()
        self._problems: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._open = 0
        self._handlers: set[asyncio.Task] = set()
        self._cpu = 0.0  # CPU seconds of the witness's thread (answering, signing, journaling)
        self.judged = 0.0  # seconds the grader spent judging the journal (confirm.conclude)

    # --- the grader's side ----------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.folder / SOCKET_NAME

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o711)  # the sandbox's uid may reach the socket, not list the folder
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_unix_server(
                    self._serve, path=str(self.path), limit=self.bounds.line_bytes))
                if self.owner is not None:
                    os.chown(self.path, self.owner, self.owner)
                os.chmod(self.path, 0o600 if self.owner is not None or os.geteuid() != 0 else 0o666)
            except BaseException as err:  # noqa: BLE001  reported to start()
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()
                self._cpu = time.thread_time()

        self._thread = threading.Thread(target=run, name="course-witness", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure or not ready.is_set():
            raise RuntimeError(f"the model's witness could not start ({failure[0] if failure else 'no answer'})")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every channel and the socket; returns within ``timeout`` whatever the kernel does."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            async def shutdown() -> None:
                if self._server is not None:
                    self._server.close()
                for task in list(self._handlers):
                    task.cancel()
                # Let each channel's handler finish its cancellation (bounded: stop() waits at most `timeout`).
                if self._handlers:
                    await asyncio.wait(list(self._handlers), timeout=timeout / 2)
                loop.stop()

            try:
                asyncio.run_coroutine_threadsafe(shutdown(), loop)
            except RuntimeError:
                pass
            thread.join(timeout)
        try:
            self.path.unlink()
        except OSError:
            pass

    def cost(self) -> dict[str, float]:
        """What this notebook's witness cost the grader (for ``make bench`` and the logs)."""
        with self._lock:
            calls = len(self._records)
        return {"witness calls": float(calls), "witness cpu": round(self._cpu, 4), "witness judge": round(self.judged, 4)}

    def journal(self) -> list[dict]:
        """The calls this witness answered, in the order they ended (copies)."""
        with self._lock:
            return [dict(r) for r in self._records]

    def problems(self) -> list[str]:
        """What the kernel did to this witness that it refused, in plain words."""
        with self._lock:
            return [f"{what} ({count} time{'s' if count != 1 else ''})" if count > 1 else what
                    for what, count in self._problems.items()]

    def signed(self, ref: str) -> bool:
        """True when this witness issued ``ref`` (its key made it) in this notebook."""
        with self._lock:
            return ref in self._issued

    # --- the kernel's side ------------------------------------------------------------
    def _problem(self, what: str) -> None:
        with self._lock:
            if what in self._problems or len(self._problems) < 20:
                self._problems[what] = self._problems.get(what, 0) + 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._open += 1
        try:
            if self._open > self.bounds.channels:
                self._problem(f"opened more than {self.bounds.channels} channels to the model at once")
                return
            while True:
                try:
                    line = await asyncio.wait_for(asyncio.ensure_future(reader.readline()), self.bounds.idle_seconds)
                except asyncio.TimeoutError:
                    self._problem(f"kept a channel to the model open for {self.bounds.idle_seconds:g} s "
                                  "without a request")
                    return
                except (ValueError, asyncio.LimitOverrunError):
                    self._problem(f"sent the model a request longer than {self.bounds.line_bytes:,} bytes")
                    return
                if not line:
                    return
                try:
                    answer = await self._answer(line)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001  whatever a request does, the grader goes on
                    self._problem(f"sent a model call the witness could not read ({type(err).__name__})")
                    answer = {"error": "the model could not answer this call"}
                writer.write((json.dumps(answer) + "\n").encode())
                try:
                    await asyncio.wait_for(writer.drain(), self.bounds.idle_seconds)
                except asyncio.TimeoutError:
                    self._problem("did not read the model's replies")
                    return
                if "error" in answer:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._open -= 1
            if task is not None:
                self._handlers.discard(task)
            try:
                writer.close()
            except Exception:  # noqa: BLE001  the kernel may be gone already
                pass

    async def _answer(self, line: bytes) -> dict:
        from course.scripted_llm import DELEGATED_BY, ReplyRequest, compose

        try:
            data = json.loads(line)
            request = ReplyRequest.from_dict(data.get("request") if isinstance(data, dict) else None)
            latency = float(data.get("latency", 0.0))
        except (ValueError, TypeError, AttributeError):
            self._problem("sent the model something that is not a model call")
            return {"error": "not a model call"}
        with self._lock:
            full = len(self._records) >= self.bounds.calls
        if full:
            self._problem(f"made more than {self.bounds.calls:,} model calls")
            return {"error": f"more than {self.bounds.calls} model calls in one notebook"}
        start = time.monotonic()
        latency = min(max(latency, 0.0), self.bounds.latency) if latency == latency else 0.0
        if latency:
            await asyncio.sleep(latency)
        try:
            reply = compose(request, key=self._key)
            prompt = request.prompt()
        except Exception as err:  # noqa: BLE001  a request the script cannot read is the kernel's problem
            self._problem(f"sent a model call the script could not answer ({type(err).__name__})")
            return {"error": "the model could not answer this call"}
        end = time.monotonic()
        from course import replies
        from course.scripted_llm import _coworkers_in_prompt

        manager = prompt.is_manager and DELEGATED_BY not in prompt.context
        said = "\n".join(content for _, content in request.messages)
        kit = any(k in said for k in self.kit)
        offered = sorted({c.role for c in _coworkers_in_prompt(prompt)}) if manager else []
        own = replies.refs_in(reply.split("Final Answer:", 1)[-1]) if "Final Answer:" in reply else []
        arrived = replies.refs_in(prompt.context)
        delegated = _DELEGATED_TO.search(reply) if manager and "Final Answer:" not in reply else None
        text = self.bounds.text
        with self._lock:
            if own and not manager:
                self._issued.add(own[0])
            received = [r for r in arrived if r in self._issued]
            forged = [r for r in arrived if r not in self._issued]
            self._records.append({
                "seq": len(self._records), "run": _short(data.get("run", ""), text),
                "task_id": _short(data.get("task_id", ""), text), "task_name": _short(data.get("task_name", ""), text),
                "task": _short(request.task, text), "role": _short(request.role, text),
                "thread": _short(data.get("thread", ""), text), "manager": manager,
                "start": start, "end": end,
                "ref": own[0] if own and own[0] in self._issued else None,
                "received": received[:50], "forged": forged[:10],
                "delegated_to": json.loads(f'"{delegated.group(1)}"')[:text] if delegated else None,
                "kit": kit, "offered": [_short(o, text) for o in offered[:20]],
            })
        if forged:
            self._problem("sent the model outputs it never wrote (tags it did not sign)")
        return {"reply": reply}


# --- one folder per worker, mounted into its sandbox ----------------------------------

def folder_for(work: str) -> Path:
    """The host folder this worker's sandbox sees at ``KERNEL_DIR`` (made once per worker process)."""
    folder = Path(work) / f".witness-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o711)
    return folder
