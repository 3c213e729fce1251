"""Every table of the service on one Base, the queue's and the LTI ones: what the migrations build."""

from grader.service.lti import db as lti_db  # noqa: F401  (its tables join Base.metadata on import)
from grader.service.queue.db import Base

metadata = Base.metadata
