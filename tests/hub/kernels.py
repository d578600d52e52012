"""Kernels and terminals of a single-user server, driven as JupyterLab drives them: a session made through the
REST API, then the kernel's websocket (Jupyter's JSON messages) or the terminal's (terminado's)."""

from __future__ import annotations

import json
import time
import uuid

import websocket

CELL_LIMIT = 180  # seconds one cell may take (a chapter's check under the load of a whole class)


class Kernel:
    """A kernel of ``user``'s server, opened for the notebook ``path`` (its folder is the kernel's)."""

    def __init__(self, hub, user: str, path: str):
        self.hub, self.user = hub, user
        session = hub.api("POST", f"/user/{user}/api/sessions",
                          {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}})
        self.id, self.session = session["kernel"]["id"], uuid.uuid4().hex
        self.socket = websocket.create_connection(
            f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{self.id}/channels?session_id={self.session}",
            header=[f"Authorization: token {hub.token}"], timeout=CELL_LIMIT)

    def execute(self, code: str) -> dict:
        """Run ``code``; ``{"text": stdout, stderr and plain-text results, "error": ename or None}``."""
        msg_id = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                       "username": self.user, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": False}}))
        text, error, deadline = [], None, time.monotonic() + CELL_LIMIT
        while True:
            assert time.monotonic() < deadline, f"{self.user}: no answer within {CELL_LIMIT} s to {code[:200]!r}"
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                text.append(content["data"].get("text/plain", ""))
                text.append(content["data"].get("text/html", ""))
            elif kind == "error":
                error = content["ename"]
                text.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return {"text": "\n".join(text), "error": error}

    def close(self) -> None:
        """Close the websocket (the kernel runs on, as when a browser tab closes)."""
        self.socket.close()


def terminal(hub, user: str, command: str, limit: float = 60) -> str:
    """What a new JupyterLab terminal of ``user`` prints for ``command`` (a line typed into it)."""
    name = hub.api("POST", f"/user/{user}/api/terminals")["name"]
    socket = websocket.create_connection(f"ws://127.0.0.1:{hub.port}/user/{user}/terminals/websocket/{name}",
                                         header=[f"Authorization: token {hub.token}"], timeout=limit)
    marker = uuid.uuid4().hex
    try:
        socket.send(json.dumps(["stdin", f"{command}; echo {marker[:8]}''{marker[8:]}\r"]))
        seen, deadline = "", time.monotonic() + limit
        while marker not in seen:
            assert time.monotonic() < deadline, f"{user}'s terminal did not finish {command!r}:\n{seen[-2000:]}"
            kind, *rest = json.loads(socket.recv())
            if kind == "stdout":
                seen += rest[0]
        return seen
    finally:
        socket.close()
        hub.api("DELETE", f"/user/{user}/api/terminals/{name}")
