"""An LMS (lti1p3platform) and the grader as its tool, both on loopback, with the tool registered at the LMS and
the LMS at the tool (as `admin lti add-platform` does), and a course of learners, an instructor, a TA and a mentor."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.service.lti.registry import add_platform
from grader.service.queue.store import Store
from tests.grader.service.live import Service, free_port, make_data
from tests.grader.service.lti.lms import INSTRUCTOR, MENTOR, TA, Course, Link, Lms, Member, serve
from tests.grader.service.lti.tool import Browser, Clock, Tool, serving

ROSTER = ("alice", "bob", "carol", "dave", "dora")


def course() -> Course:
    c = Course()
    for m in (
        Member("u-alice", "Alice Liddell", "alice@uni.edu", "alice"),  # SIS id = roster id (rule step 2)
        Member("u-bob", "Bob Moses", "Bob.Moses@uni.edu"),  # email in the contacts (step 4)
        Member("u-carol", "Carol Danvers", None, "S-0003"),  # SIS id in the contacts (step 3)
        Member("u-dave", "Dave Bowman", "dave@uni.edu", "dave"),
        Member("u-eve", "Eve Unknown", "eve@uni.edu", "S-9999"),  # on no roster
        Member("u-dora", "Dora Private", "dora@uni.edu", "dora", private=True),  # matched through NRPS (step 5)
        Member("u-prof", "Prof. Snape", "snape@uni.edu", roles=(INSTRUCTOR,)),
        Member("u-tess", "Tess the TA", "tess@uni.edu", roles=(TA,)),
        Member("u-maya", "Maya Mentor", "maya@uni.edu", roles=(MENTOR,)),
    ):
        c.members[m.user_id] = m
    c.links["rl-pa5"] = Link("rl-pa5", "PA5: backprop")
    c.links["rl-assignment"] = Link("rl-assignment", "PA5 (graded assignment)", platform_lineitem=True)
    return c


@dataclass
class World:
    lms: Lms
    tool: Tool
    service: Service
    clock: Clock
    tmp: Path
    serve_tool: Callable[[], AbstractContextManager[Tool]]
    running: ExitStack

    def browser(self, **kw) -> Browser:
        return Browser(**kw)

    def restart(self) -> Tool:
        """Stop the tool and start it again over the same data folder and port (a new app, a new store)."""
        self.running.close()
        self.running = ExitStack()
        self.tool = self.running.enter_context(self.serve_tool())
        return self.tool


def register(service: Service, lms: Lms, **extra) -> None:
    store = Store(f"sqlite:///{service.data / 'pa5.db'}")
    try:
        add_platform(lti=store.lti, data_dir=service.data, **lms.registration_args(), **extra)
        contacts = [("bob", "bob.moses@uni.edu", None), ("carol", None, "S-0003")]
        store.lti.set_contacts(contacts)
    finally:
        store.engine.dispose()


@contextmanager
def world_at(tmp: Path, *, workers: int = 0, backend=None, ssl: dict | None = None, roster=ROSTER, **tool_kw):
    lms_port, tool_port = free_port(), free_port()
    scheme, host = ("https", "localhost") if ssl else ("http", "127.0.0.1")
    lms = Lms(url=f"http://127.0.0.1:{lms_port}", tool_url=f"{scheme}://{host}:{tool_port}", course=course())
    server = serve(lms.app, lms_port)
    service = make_data(tmp, students=roster)
    register(service, lms)
    clock = Clock()

    def serve_tool():
        return serving(service, port=tool_port, clock=clock, workers=workers, backend=backend, ssl=ssl, **tool_kw)

    running, w = ExitStack(), None
    try:
        w = World(lms, running.enter_context(serve_tool()), service, clock, tmp, serve_tool, running)
        yield w
    finally:
        (w.running if w else running).close()
        server.should_exit = True
        server.thread.join(timeout=30)


@pytest.fixture
def world(tmp_path):
    with world_at(tmp_path) as w:
        yield w


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()
