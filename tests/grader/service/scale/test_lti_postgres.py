"""The LTI store on a real PostgreSQL: one-time nonces, the line item lease, a passback's life, removing a platform."""

import datetime as dt

from grader.service.queue.store import Store

NOW = dt.datetime(2026, 12, 1, 9, 0)
LATER = NOW + dt.timedelta(minutes=5)


def test_the_lti_store_on_postgresql(database):
    store = Store(database)
    try:
        store.upgrade_schema()
        lti = store.lti
        store.tokens.set_student("alice", "h-alice")
        p = lti.add_platform(
            issuer="https://lms", client_id="c", deployment_id="d", auth_login_url="https://lms/a",
            auth_token_url="https://lms/t", keyset_url="https://lms/k", frame_origins=("https://lms",),
        )  # fmt: skip
        assert lti.add_platform(**{**p.__dict__, "id": None, "not_before": None}) is None  # once per deployment

        lti.state_set("nonce-1", True, LATER)
        assert lti.state_take("nonce-1", NOW) and not lti.state_take("nonce-1", NOW)  # good for one launch
        lti.state_set("nonce-2", {"a": 1}, NOW)
        assert lti.state_get("nonce-2", NOW) is None and lti.state_sweep(NOW) == 1

        link = lti.upsert_link(
            platform_id=p.id, resource_link_id="rl", context_id="ctx", title="PA5", ags_scopes=["s"],
            lineitems_url="https://lms/li", lineitem_url=None, nrps_url=None, now=NOW,
        )  # fmt: skip
        assert lti.claim_lineitem(link.id, NOW, LATER) and not lti.claim_lineitem(link.id, NOW, LATER)
        assert lti.claim_lineitem(link.id, LATER, LATER + dt.timedelta(minutes=5))  # a dead claimant's lease ran out
        lti.set_lineitem(link.id, "https://lms/li/1")
        assert not lti.claim_lineitem(link.id, LATER, LATER)

        token = lti.token_of_student("alice")
        user = lti.link_user(
            platform_id=p.id, sub="u-1", role="student", token_id=token.id, student_id="alice", matched_by="sub",
            name=None, email="a@x", sourcedid=None, now=NOW, launched=True,
        )  # fmt: skip
        lti.passbacks.enrol(link.id, user.id, NOW)
        lti.passbacks.enrol(link.id, user.id, NOW)
        (row,) = lti.passbacks.rows()
        assert lti.passbacks.record_failed(row.id, code=500, answer="boom", retry_at=LATER, now=NOW) == 1
        lti.passbacks.record_sent(
            row.id, submission_id=3, score=8.5, max_score=10.0, timestamp=NOW, progress="Pending", answer="ok", now=NOW
        )
        assert lti.passbacks.counts() == {"sent": 1, "pending": 0, "failed": 0}
        assert lti.passbacks.resend_all(NOW) == 1 and lti.passbacks.rows()[0].sent_score is None

        assert lti.remove_platform(p.id) and lti.passbacks.rows() == [] and lti.users() == [] and lti.links() == []
        assert store.is_student("alice")  # the roster stays
    finally:
        store.engine.dispose()
