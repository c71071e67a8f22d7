"""Schemathesis against our own OpenAPI document, as a logged-in user.

The idea: `/schema/openapi.json` is a contract that a machine can check. For every
operation in it, Schemathesis generates requests that fit the schema (and, for the
operations that take input, some that break it), a real server answers them, and every
answer is checked: never a 5xx; a status code the operation documents; the documented
content type; a body that matches the documented schema; and a request that breaks the
schema is refused. A crash, an undocumented 404 or a field the schema forgot fails here,
with a curl command that reproduces it.

A second user with a post, a comment, a thread and a story is seeded first, and the
generated path parameters are sometimes replaced by their ids, so that the id-taking
routes hit real objects and not only 404s. Generation is derandomized (Hypothesis derives
its seed from the test), so CI sends the same requests on every run.
`benchmarks/schemathesis_long.py` runs this harness with many more examples.

Cost: one server process and about 25 s on the 2-core machine: 15 requests per
operation, and 6 more that break the schema for each operation that takes input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from instamini.app import create_app
from instamini.bench.server import ServerProcess
from instamini.config import decode_config
from tests.conftest import REPO
from tests.media.helpers import jpeg_bytes
from tests.media.test_server import wait_until_processed

POSITIVE_EXAMPLES, NEGATIVE_EXAMPLES = 15, 6
PASSWORD = "correct horse"
LOGOUT = "DELETE /api/v1/sessions/current"

# Cheap password hashing and no per-address limits: every request comes from 127.0.0.1,
# and the limits have their own tests (a 429 is documented where it can happen).
FUZZ_TOML = f"""
[plugins]
dirs = ["{REPO / 'plugins'}"]
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
logins_per_address_per_minute = 1000000
registrations_per_address_per_minute = 1000000
[media]
uploads_per_address_per_minute = 1000000
"""

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


@dataclass
class Target:
    """A running, seeded server and what the generated requests need to reach it."""

    server: ServerProcess
    http: httpx.Client
    schema: schemathesis.BaseSchema
    token: str
    known: dict[str, str] = field(default_factory=dict)  # path parameter name -> a real object's value

    def headers_for(self, label: str) -> dict[str, str]:
        if label == LOGOUT:  # logging out would end the session every other request uses: spend a fresh one
            return bearer(login(self.http, "fuzzer"))
        return bearer(self.token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(http: httpx.Client, username: str) -> str:
    response = http.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def login(http: httpx.Client, username: str) -> str:
    response = http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def ready_upload(http: httpx.Client, token: str) -> dict:
    response = http.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes())}, headers=bearer(token))
    assert response.status_code == 202, response.text
    media = wait_until_processed(http, response.json()["id"], bearer(token))
    assert media["status"] == "ready", media
    return media


def seed(http: httpx.Client) -> tuple[str, dict[str, str]]:
    """The fuzzer and a friend it follows, with a post, a comment, a thread and a story."""
    me, friend = register(http, "fuzzer"), register(http, "friend")
    picture = ready_upload(http, friend)
    post = http.post("/api/v1/posts", json={"caption": "sunny #sun", "media_ids": [picture["id"]]}, headers=bearer(friend))
    assert post.status_code == 201, post.text
    story = http.post("/api/v1/stories", json={"media_id": ready_upload(http, friend)["id"]}, headers=bearer(friend))
    assert story.status_code == 201, story.text
    assert http.post("/api/v1/users/friend/follow", headers=bearer(me)).status_code == 200
    comment = http.post(f"/api/v1/posts/{post.json()['id']}/comments", json={"text": "nice"}, headers=bearer(me))
    thread = http.post("/api/v1/threads", json={"usernames": ["friend"]}, headers=bearer(me))
    assert comment.status_code == 201 and thread.status_code == 201, (comment.text, thread.text)
    known = {
        "username": "friend",
        "post_id": post.json()["id"],
        "comment_id": comment.json()["id"],
        "thread_id": thread.json()["id"],
        "story_id": story.json()["id"],
        "media_id": ready_upload(http, me)["id"],  # the status route shows your own uploads only
        "name": picture["variants"][0]["url"].rsplit("/", 1)[1],
        "tag": "sun",
    }
    return me, known


@contextmanager
def seeded_server(tmp: Path) -> Iterator[Target]:
    config = tmp / "fuzz.toml"
    config.write_text(FUZZ_TOML)
    with ServerProcess(config, tmp / "data") as server, httpx.Client(base_url=server.url, timeout=30) as http:
        token, known = seed(http)
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
        yield Target(server, http, schema, token, known)


def cases(target: Target, operation, mode: GenerationMode):
    """Generated cases; valid ones are sometimes aimed at the seeded objects."""
    generated = operation.as_strategy(generation_mode=mode)
    aimed = {p.name: target.known[p.name] for p in operation.path_parameters if p.name in target.known}
    if mode is GenerationMode.POSITIVE and aimed:
        return st.one_of(generated, operation.as_strategy(generation_mode=mode, path_parameters=aimed))
    return generated


def takes_input(operation) -> bool:
    # Breaking the schema needs something to break: a parameter or a body.
    return bool(list(operation.iter_parameters())) or bool(operation.body)


def takes_a_form(operation) -> bool:
    return any(body.media_type == "multipart/form-data" for body in operation.body)


def fuzz(target: Target, operation, mode: GenerationMode, examples: int) -> tuple[int, list[str]]:
    """Send up to `examples` generated requests; returns how many were sent and each failure's report."""
    sent, failures = 0, []
    # A form field is text on the wire: the `null` that breaks its JSON type arrives as the
    # string "null", which the server rightly accepts, so a form's refusals are not judged.
    judge_refusals = mode is GenerationMode.NEGATIVE and not takes_a_form(operation)
    checks = NEGATIVE_CHECKS if judge_refusals else CHECKS

    # The server is under test, not the generator: no health check may stop a run for being slow.
    @settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(target, operation, mode))
    def send(case) -> None:
        nonlocal sent
        sent += 1
        headers = target.headers_for(operation.label)
        response = case.call(base_url=target.server.url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as failure:
            failures.append(str(failure))

    send()
    return sent, failures


def operation_labels() -> list[str]:
    """The operations, read off the app's own OpenAPI at collection time (building the app opens nothing)."""
    document = create_app(decode_config(FUZZ_TOML, source="fuzz config")).openapi_schema.to_schema()
    methods = ("get", "head", "put", "post", "patch", "delete")
    return [f"{m.upper()} {path}" for path, item in document["paths"].items() for m in methods if m in item]


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[Target]:
    with seeded_server(tmp_path_factory.mktemp("schemathesis")) as running:
        yield running


@pytest.mark.parametrize("label", operation_labels())
def test_operation_keeps_its_contract(target: Target, label: str):
    operation = target.schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the document the server serves"
    sent, failures = fuzz(target, operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
    if takes_input(operation):
        more, refused_badly = fuzz(target, operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
        sent, failures = sent + more, failures + refused_badly
    assert sent > 0
    assert not failures, f"{len(failures)} of {sent} answers broke the contract; the first:\n{failures[0]}"
    assert target.server.process.poll() is None, "the server died"
