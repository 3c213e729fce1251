import pytest

from tests.grader.service.live import make_data, running


@pytest.fixture
def service_data(tmp_path):
    """A fresh data folder (admin init + admin students), not served."""
    return make_data(tmp_path)


@pytest.fixture
def api(service_data):
    """The service over real HTTP against a real SQLite file, accepting but not grading (no workers)."""
    with running(service_data) as s:
        yield s


@pytest.fixture
def grading(service_data, process_backend):
    """The service over real HTTP with two embedded workers grading in the process sandbox."""
    with running(service_data, workers=2, backend=process_backend) as s:
        yield s
