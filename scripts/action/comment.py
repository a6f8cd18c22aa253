#!/usr/bin/env python3
"""Posts the guardform plan as a pull-request comment, and updates that same comment in place on
later runs (as Atlantis and tfcmt do), for the GitHub Action (action.yml).

The comment is found again by a hidden marker on its first line,
``<!-- guardform-plan manifest=PATH -->``, PATH being the manifest's path in the repository, so
one pull request can carry one comment per manifest. Comments that do not start with this
marker (anyone else's) are never changed.

Environment (action.yml passes the inputs through ``env:``):
  GUARDFORM_MARKDOWN_FILE      the plan as Markdown (``guardform show FILE --format markdown``)
  GUARDFORM_MANIFEST           the manifest, relative to the working directory
  GUARDFORM_WORKING_DIRECTORY  the working directory (default ``.``)
  GUARDFORM_HAS_CHANGES        true | false (for the heading)
  GITHUB_TOKEN                 a token that may write issue comments
  GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SERVER_URL, GITHUB_RUN_ID,
  GITHUB_SHA                   (set by the runner)

The API URL must be https://, or http:// on a loopback address (tests). Standard library only.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import urllib.error
import urllib.parse
import urllib.request

#: GitHub refuses comment bodies over 65,536 characters; leave room for the heading and footer.
MAX_PLAN_CHARS = 60_000
PER_PAGE = 100
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def fail(message: str) -> None:
    print(f"::error title=guardform comment::{message}", file=sys.stderr)
    sys.exit(1)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        if default is not None:
            return default
        fail(f"{name} is not set")
    return value  # type: ignore[return-value]


def marker_for(manifest_path: str) -> str:
    """The hidden first line that identifies this manifest's comment; quoted so that no path can
    end the HTML comment early."""
    return f"<!-- guardform-plan manifest={urllib.parse.quote(manifest_path, safe='/._~')} -->"


def manifest_path() -> str:
    directory = os.environ.get("GUARDFORM_WORKING_DIRECTORY") or "."
    manifest = os.environ.get("GUARDFORM_MANIFEST") or "guardform.yaml"
    return posixpath.normpath(posixpath.join(directory, manifest))


class GitHub:
    """The few REST calls the comment needs."""

    def __init__(self, api_url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            fail(f"GITHUB_API_URL must be https:// (or http:// on a loopback address), not {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[object, dict]:
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "guardform-action")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return (json.loads(text) if text else None), dict(response.headers)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            hint = ""
            if error.code in (403, 404):
                hint = " (the job needs `permissions: pull-requests: write`, or a token that may comment)"
            fail(f"{method} {url} answered {error.code}: {detail}{hint}")
        except urllib.error.URLError as error:
            fail(f"{method} {url} failed: {error.reason}")
        raise AssertionError("unreachable")

    def comments(self, repository: str, number: int):
        """Every comment of the pull request, page by page."""
        page = 1
        while True:
            items, _ = self.call(
                "GET",
                f"/repos/{repository}/issues/{number}/comments?per_page={PER_PAGE}&page={page}",
            )
            if not isinstance(items, list):
                fail("listing the pull request's comments did not return a list")
            yield from items
            if len(items) < PER_PAGE:
                return
            page += 1


def pull_request_number() -> int | None:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        event = json.load(file)
    number = (event.get("pull_request") or {}).get("number")
    return int(number) if number is not None else None


def body(marker: str, path: str, plan: str) -> str:
    if len(plan) > MAX_PLAN_CHARS:
        plan = (
            plan[:MAX_PLAN_CHARS].rsplit("\n", 1)[0]
            + "\n\n… the plan is longer than a comment may be; the job summary has all of it.\n"
        )
    changes = os.environ.get("GUARDFORM_HAS_CHANGES")
    status = {"true": "changes to apply", "false": "no changes"}.get(changes or "", "")
    heading = f"### guardform plan: `{path}`" + (f" ({status})" if status else "")
    footer = []
    server = os.environ.get("GITHUB_SERVER_URL")
    repository = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        footer.append(f"commit {sha[:12]}")
    if server and repository and run_id:
        footer.append(f"[workflow run]({server}/{repository}/actions/runs/{run_id})")
    text = f"{marker}\n{heading}\n\n{plan.rstrip()}\n"
    if footer:
        text += "\n<sub>" + " · ".join(footer) + "</sub>\n"
    return text


def main() -> None:
    number = pull_request_number()
    if number is None:
        print("guardform comment: not a pull request event; no comment posted", file=sys.stderr)
        return
    repository = env("GITHUB_REPOSITORY")
    github = GitHub(env("GITHUB_API_URL", "https://api.github.com"), env("GITHUB_TOKEN"))
    with open(env("GUARDFORM_MARKDOWN_FILE"), encoding="utf-8") as file:
        plan = file.read()
    path = manifest_path()
    marker = marker_for(path)
    text = body(marker, path, plan)

    ours = [c for c in github.comments(repository, number) if str(c.get("body", "")).startswith(marker + "\n")]
    if ours:
        comment_id = ours[0]["id"]
        github.call("PATCH", f"/repos/{repository}/issues/comments/{comment_id}", {"body": text})
        print(f"guardform comment: updated comment {comment_id} on #{number}", file=sys.stderr)
    else:
        created, _ = github.call("POST", f"/repos/{repository}/issues/{number}/comments", {"body": text})
        comment_id = created.get("id") if isinstance(created, dict) else None
        print(f"guardform comment: created comment {comment_id} on #{number}", file=sys.stderr)


if __name__ == "__main__":
    main()
