"""An LMS for the tests: the `lti1p3platform` package (which nobody here wrote) as an LTI 1.3 platform on loopback,
doing the OIDC login initiation, the launch, the access tokens, AGS (line items, scores) and NRPS.

What lti1p3platform leaves to its user, and this file adds, each as small as it can be:
- HTTP routes around its handlers (it has no server), and a request adapter for them (its FastAPI one is commented
  out in 0.1.8): `PlainRequest`;
- storage for line items, scores and members (its services are abstract over storage): `Course`;
- the auto-submitting launch form (its template module imports pkg_resources): `launch_form`;
- failure injection for the scores endpoint (answers 500 or 429 with Retry-After on demand): `Course.fail_next`;
- a course page that frames the tool, for the browser test: `/course`.
"""

from __future__ import annotations

import html
import itertools
import json
import threading
from dataclasses import dataclass, field

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as PlatformRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = LIS + "membership#Learner"
INSTRUCTOR = LIS + "membership#Instructor"
TA = LIS + "membership/Instructor#TeachingAssistant"
MENTOR = LIS + "membership#Mentor"
CLIENT_ID = "pa5-grader-client"
DEPLOYMENT_ID = "deployment-1"
CONTEXT = "course-cs4670"


def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Member:
    user_id: str
    name: str
    email: str | None = None
    sourcedid: str | None = None
    roles: tuple[str, ...] = (LEARNER,)
    private: bool = False  # the launch carries no name, email or SIS id (NRPS still does)

    def nrps(self) -> dict:
        m = {"user_id": self.user_id, "name": self.name, "roles": list(self.roles), "status": "Active"}
        if self.email:
            m["email"] = self.email
        if self.sourcedid:
            m["lis_person_sourcedid"] = self.sourcedid
        return m


@dataclass
class Link:
    id: str
    title: str
    platform_lineitem: bool = False  # the LMS made the link's line item (as Canvas does for an assignment)


@dataclass
class Course:
    """The LMS's state: members, links, line items, the scores posted, and failures to answer with."""

    members: dict[str, Member] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    lineitems: dict[str, dict] = field(default_factory=dict)  # short id -> line item (without its URL id)
    scores: dict[str, list[dict]] = field(default_factory=dict)  # short id -> scores posted, in order
    failures: list[tuple[int, dict, str]] = field(default_factory=list)  # (status, headers, body) for next posts
    score_posts: int = 0  # every POST to a scores endpoint, failed ones included
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, status: int, body: str = "", **headers: str) -> None:
        self.failures.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, body))


class PlainRequest(PlatformRequest):
    """lti1p3platform's request over what the route read already (its FastAPI adapter is commented out)."""

    def build_metadata(self, request: dict) -> dict:
        return request


async def plain(request: Request) -> PlainRequest:
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    form = dict(await request.form()) if ctype.startswith("application/x-www-form-urlencoded") else {}
    data = json.loads(body) if body and "json" in ctype else None
    return PlainRequest(
        {
            "method": request.method,
            "form_data": form,
            "get_data": dict(request.query_params),
            "headers": request.headers,
            "content_type": ctype,
            "path": request.url.path,
            "json": data,
        }
    )


def launch_form(action: str, fields: dict) -> HTMLResponse:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">' for k, v in fields.items()
    )
    return HTMLResponse(
        f'<!doctype html><title>LMS launch</title><form id="f" method="post" action="{html.escape(action)}">{inputs}'
        '</form><script>document.getElementById("f").submit()</script>'
    )


class Lms:
    """The platform: its URLs, keys and course, and its FastAPI app."""

    def __init__(self, *, url: str, tool_url: str, course: Course | None = None):
        self.url, self.tool_url = url, tool_url
        self.issuer = url
        self.private_pem, self.public_pem = rsa_pem()
        self.course = course or Course()
        self.id_token_seconds = 300
        self.app = self._app()

    # -- what the tool's administrator registers --------------------------------------------------------------

    def registration_args(self) -> dict:
        return dict(
            issuer=self.issuer,
            client_id=CLIENT_ID,
            deployment_id=DEPLOYMENT_ID,
            auth_login_url=f"{self.url}/authorize",
            auth_token_url=f"{self.url}/token",
            keyset_url=f"{self.url}/jwks",
        )

    def cli_args(self) -> list[str]:
        return [f"--{k.replace('_', '-')}={v}" for k, v in self.registration_args().items()]

    # -- lti1p3platform configuration -------------------------------------------------------------------------

    def conf(self) -> LTI1P3PlatformConfAbstract:
        """A fresh configuration per request, so the tool's key set is fetched again each time (a rotation shows)."""
        lms = self

        class Conf(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs):
                pass

            def get_registration_by_params(self, **kwargs) -> Registration:
                return (
                    Registration()
                    .set_iss(lms.issuer)
                    .set_client_id(CLIENT_ID)
                    .set_deployment_id(DEPLOYMENT_ID)
                    .set_oidc_login_url(f"{lms.tool_url}/lti/login")
                    .set_launch_url(f"{lms.tool_url}/lti/launch")
                    .set_tool_key_set_url(f"{lms.tool_url}/lti/jwks")
                    .set_platform_public_key(lms.public_pem)
                    .set_platform_private_key(lms.private_pem)
                )

        conf = Conf()
        conf.get_registration()
        return conf

    def ags(self, request: PlainRequest) -> AssignmentsGradesService:
        course, base = self.course, f"{self.url}/lineitems"

        def full(short: str) -> dict:
            return {**course.lineitems[short], "id": f"{base}/{short}"}

        class Ags(AssignmentsGradesService):
            def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None, **kw):
                items = [full(k) for k in course.lineitems]
                if resource_link_id:
                    items = [i for i in items if i.get("resourceLinkId") == resource_link_id]
                return {"content": items, "has_next": False, "next": None}

            def find_lineitem(self, line_item_id):
                return full(line_item_id)

            def create_lineitem(self, creation_data):
                with course.lock:
                    short = str(next(course.ids))
                    course.lineitems[short] = {k: v for k, v in creation_data.items() if k != "id"}
                return full(short)

            def update_lineitem(self, update_data):
                raise NotImplementedError

            def delete_lineitem(self, line_item_id):
                raise NotImplementedError

            def update_score(self, line_item_id, score):
                course.scores.setdefault(line_item_id, []).append(score)
                return UpdateScoreStatus.SUCCESS

            def get_results(self, line_item_id, page=1, limit=None, user_id=None):
                raise NotImplementedError

        return Ags(request, self.conf(), base, allow_creating_lineitems=True)

    def nrps(self, request: PlainRequest) -> NamesRoleProvisioningService:
        course = self.course

        class Nrps(NamesRoleProvisioningService):
            def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kw):
                return {"content": [m.nrps() for m in course.members.values()], "has_next": False, "next": None}

            def get_context_by_id(self):
                return Context(id=CONTEXT, label="CS4670", title="Computer Vision")

        return Nrps(request, self.conf(), f"{self.url}/memberships")

    def launch_for(self, request: PlainRequest, user: Member, link: Link):
        lms = self

        class Launch(LTIAdvantageMessageLaunchAbstract):
            def render_launch_form(self, launch_data, **kwargs):
                return launch_form(launch_data["launch_url"], {k: launch_data[k] for k in ("id_token", "state")})

        m = Launch(request, self.conf())
        m.set_id_token_expiration(self.id_token_seconds)
        shared = not user.private
        m.set_user_data(
            user.user_id, list(user.roles), full_name=shared and user.name, email_address=shared and user.email
        )
        if user.sourcedid and shared:
            m.set_extra_claims({"https://purl.imsglobal.org/spec/lti/claim/lis": {"person_sourcedid": user.sourcedid}})
        m.set_resource_link_claim(link.id, title=link.title)
        m.set_launch_context_claim(CONTEXT, context_title="Computer Vision", context_label="CS4670")
        m.set_ags(
            f"{lms.url}/lineitems",
            f"{lms.url}/lineitems/{self.platform_lineitem(link)}" if link.platform_lineitem else None,
            allow_creating_lineitems=True,
            results_service_enabled=False,
        )
        m.set_nrps(f"{lms.url}/memberships")
        return m

    def platform_lineitem(self, link: Link) -> str:
        c = self.course
        with c.lock:
            for short, item in c.lineitems.items():
                if item.get("resourceLinkId") == link.id:
                    return short
            short = str(next(c.ids))
            c.lineitems[short] = {"label": link.title, "scoreMaximum": 100, "resourceLinkId": link.id}
            return short

    # -- the app ----------------------------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app, lms = FastAPI(), self

        @app.get("/course", response_class=HTMLResponse)
        def course_page(user: str, link: str = "rl-pa5"):
            src = html.escape(f"{lms.url}/start?user={user}&link={link}")
            frame = f'<iframe id="tool" src="{src}" width="1100" height="700"></iframe>'
            return f"<!doctype html><title>Course</title><h1>CS4670</h1>{frame}"

        @app.get("/start")
        def start(request: Request, user: str, link: str = "rl-pa5"):
            class Login(OIDCLoginAbstract):
                def set_lti_message_hint(self, **kwargs):
                    self._lti_message_hint = kwargs["link"]

                def get_redirect(self, url):
                    return RedirectResponse(url, status_code=302)

            login = Login(request, lms.conf())
            login.set_lti_message_hint(link=link)
            return login.initiate_login(user)

        @app.get("/authorize")
        async def authorize(request: Request):
            req = await plain(request)
            q = req.get_data
            user, link = lms.course.members[q["login_hint"]], lms.course.links[q["lti_message_hint"]]
            return lms.launch_for(req, user, link).lti_launch()

        @app.post("/token")
        async def token(request: Request):
            req = await plain(request)
            return JSONResponse(lms.conf().get_access_token(req.form_data))

        @app.get("/jwks")
        def jwks():
            return lms.conf().get_jwks()

        def answer(resp, *, content=None) -> Response:
            body = resp.result if content is None else content
            if body is None:
                return Response(status_code=resp.code)
            return JSONResponse(body, status_code=resp.code, media_type=resp.media_type)

        @app.get("/lineitems")
        async def lineitems(request: Request):
            service = lms.ags(await plain(request))
            resp = service.handle_resp(service.handle_get_lineitems)
            return answer(resp, content=resp.result["content"] if resp.code == 200 else None)

        @app.post("/lineitems")
        async def create(request: Request):
            service = lms.ags(await plain(request))
            return answer(service.handle_resp(service.handle_create_lineitem))

        @app.get("/lineitems/{short}")
        async def lineitem(short: str, request: Request):
            service = lms.ags(await plain(request))
            return answer(service.handle_resp(service.handle_get_lineitem, line_item_id=short))

        @app.post("/lineitems/{short}/scores")
        async def scores(short: str, request: Request):
            course = lms.course
            with course.lock:
                course.score_posts += 1
                failure = course.failures.pop(0) if course.failures else None
            if failure:
                status, headers, body = failure
                return Response(body, status_code=status, headers=headers)
            service = lms.ags(await plain(request))
            return answer(service.handle_resp(service.handle_update_score, line_item_id=short))

        @app.get("/memberships")
        async def memberships(request: Request):
            service = lms.nrps(await plain(request))
            return answer(service.handle_resp(service.handle_get_members))

        return app


def serve(app, port: int, **ssl) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **ssl))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    server.thread = thread
    return server
