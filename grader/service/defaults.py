"""The service's defaults, each once; stdlib only, so the command line reads them without the database layer."""

LEASE_SECONDS = 60.0  # a claimed job returns to the queue this long after its worker is last heard from
MAX_ATTEMPTS = 3  # claims of one job before it is failed
QUEUE_CAP = 1000  # queued jobs beyond which new submissions are refused
RESEND_SECONDS = 60.0  # with a broker: a queued job's message is sent again when no worker took it for this long
MARGIN = 30.0  # seconds a grade may take beyond its sandbox's submission_timeout: cases, scoring, a cold start
