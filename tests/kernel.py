"""A real Jupyter kernel for tests: run cells, collect what they show, interrupt, shut down."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import jupyter_client

from authoring.execution import KERNEL_STARTUP

ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CellRun:
    stdout: str = ""
    stderr: str = ""
    results: list = field(default_factory=list)
    error: tuple | None = None  # the last error shown: name, message, traceback (without colours)
    errors: list = field(default_factory=list)  # every error shown, in order
    others: list = field(default_factory=list)  # messages that belonged to other cells


class Kernel:
    def __init__(self, env: dict | None = None):
        """A fresh kernel; ``env`` replaces the environment it starts with (the test's own by default). It may take
        :data:`~authoring.execution.KERNEL_STARTUP` seconds to answer: the tests run several kernels at once."""
        extra = {} if env is None else {"env": env}
        self.manager, self.client = jupyter_client.manager.start_new_kernel(
            kernel_name="python3", startup_timeout=KERNEL_STARTUP, **extra)

    def start(self, code: str) -> str:
        return self.client.execute(code)

    def collect(self, msg_id: str, timeout: float = 60) -> CellRun:
        run = CellRun()
        deadline = time.monotonic() + timeout
        while True:
            message = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if message["parent_header"].get("msg_id") != msg_id:
                run.others.append(message)
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                setattr(run, content["name"], getattr(run, content["name"]) + content["text"])
            elif kind in ("execute_result", "display_data"):
                run.results.append(content["data"].get("text/plain"))
            elif kind == "error":
                traceback = ANSI_COLOURS.sub("", "\n".join(content["traceback"]))
                run.error = (content["ename"], content["evalue"], traceback)
                run.errors.append(run.error)
            elif kind == "status" and content["execution_state"] == "idle":
                return run

    def run(self, code: str, timeout: float = 60) -> CellRun:
        return self.collect(self.start(code), timeout)

    def interrupt(self) -> None:
        self.manager.interrupt_kernel()

    def run_interrupted(self, code: str, after: float = 1.0, timeout: float = 30) -> CellRun:
        """Start a cell, press the interrupt button ``after`` seconds later, and collect what the cell showed."""
        msg_id = self.start(code)
        time.sleep(after)
        self.interrupt()
        return self.collect(msg_id, timeout)

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=True)
