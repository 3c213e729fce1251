"""Bad requests against a service on PostgreSQL, whose types are stricter than SQLite's: still 4xx, never 500."""

from grader.service.access.auth import set_student_token
from grader.service.ops import admin
from tests.grader.service.live import EXAMPLES, Service, running

GOOD = (EXAMPLES / "correct" / "backprop.py").read_bytes()


def test_values_postgresql_refuses_are_4xx(tmp_path, database):
    data = tmp_path / "data"
    made = admin.init(data_dir=data, database_url=database)
    store = admin.open_store(data, database)
    tokens = {"alice": set_student_token(store, "alice")}
    store.engine.dispose()
    service = Service(data=data, instructor=made.token, tokens=tokens, secret=made.secret.read_bytes().strip())
    with running(service, database_url=database) as s, s.client("instructor") as c:
        # a NUL, which no PostgreSQL text can hold, in a query parameter and in a form field
        assert c.get("/api/submissions", params={"student_id": "a\x00b"}).status_code == 422
        r = c.post("/api/submissions", files={"file": ("backprop.py", GOOD)}, data={"student_id": "al\x00ice"})
        assert r.status_code == 422, r.text
        # ids beyond PostgreSQL's 32-bit INTEGER, and a student id longer than its column
        for sid in ("2147483648", "9223372036854775808"):
            assert c.get(f"/api/submissions/{sid}").status_code == 404
        r = c.post("/api/submissions", files={"file": ("backprop.py", GOOD)}, data={"student_id": "x" * 300})
        assert r.status_code == 422 and "roster" in r.json()["detail"]
        r = c.post("/api/submissions", files={"file": ("backprop.py", GOOD)}, data={"student_id": "alice"})
        assert r.status_code == 202, r.text
