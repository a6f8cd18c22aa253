#!/usr/bin/env python3
"""A fake GitHub REST API for the action's pull-request comment (tests/action.rs): the three
issue-comment calls scripts/action/comment.py makes, with GitHub's paging.

    .venv/bin/python tests/github/server.py --token TOKEN --state FILE [--seed FILE] [--port 0]

Ready once it prints ``github listening on http://127.0.0.1:PORT`` on stdout; it exits when its
standard input closes. Every request needs ``Authorization: Bearer TOKEN`` (401 otherwise).

  GET   /repos/OWNER/REPO/issues/N/comments?per_page=P&page=K   -> the comments of N, by id
  POST  /repos/OWNER/REPO/issues/N/comments      {"body": ...}  -> 201, the new comment
  PATCH /repos/OWNER/REPO/issues/comments/ID     {"body": ...}  -> 200, the comment

After every request FILE holds ``{"comments": [...], "requests": [{"method", "path"}, ...]}``.
``--seed`` gives the comments there at the start (each ``{"id", "issue", "body", "user"}``).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIST_OR_CREATE = re.compile(r"^/repos/[^/]+/[^/]+/issues/(\d+)/comments$")
UPDATE = re.compile(r"^/repos/[^/]+/[^/]+/issues/comments/(\d+)$")


class State:
    def __init__(self, path: str, comments: list[dict]) -> None:
        self.path = path
        self.comments = comments
        self.requests: list[dict] = []
        self.next_id = max([c["id"] for c in comments] + [1000]) + 1
        self.lock = threading.Lock()

    def save(self) -> None:
        with open(self.path + ".tmp", "w", encoding="utf-8") as file:
            json.dump({"comments": self.comments, "requests": self.requests}, file, indent=1)
        os.replace(self.path + ".tmp", self.path)


def handler(state: State, token: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def reply(self, code: int, value) -> None:
            data = json.dumps(value).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append({"method": method, "path": self.path})
                try:
                    code, value = self.route(method, url, raw)
                finally:
                    state.save()
            self.reply(code, value)

        def route(self, method: str, url, raw: bytes):
            if self.headers.get("Authorization") != f"Bearer {token}":
                return 401, {"message": "Bad credentials"}
            if self.headers.get("Accept") != "application/vnd.github+json":
                return 415, {"message": "Accept: application/vnd.github+json expected"}
            match = LIST_OR_CREATE.match(url.path)
            if match and method == "GET":
                issue = int(match.group(1))
                query = parse_qs(url.query)
                per_page = min(int(query.get("per_page", ["30"])[0]), 100)
                page = int(query.get("page", ["1"])[0])
                mine = [c for c in state.comments if c["issue"] == issue]
                return 200, mine[(page - 1) * per_page : page * per_page]
            if match and method == "POST":
                body = json.loads(raw)["body"]
                comment = {
                    "id": state.next_id,
                    "issue": int(match.group(1)),
                    "body": body,
                    "user": {"login": "github-actions[bot]", "type": "Bot"},
                }
                state.next_id += 1
                state.comments.append(comment)
                return 201, comment
            match = UPDATE.match(url.path)
            if match and method == "PATCH":
                for comment in state.comments:
                    if comment["id"] == int(match.group(1)):
                        comment["body"] = json.loads(raw)["body"]
                        return 200, comment
                return 404, {"message": "Not Found"}
            return 404, {"message": "Not Found"}

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_PATCH(self) -> None:
            self.handle_any("PATCH")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--seed")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    comments = []
    if args.seed:
        with open(args.seed, encoding="utf-8") as file:
            comments = json.load(file)
    state = State(args.state, comments)
    state.save()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(state, args.token))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"github listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the test closes our standard input (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
