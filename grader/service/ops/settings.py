"""The service's settings, one validated model with every default in one place."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from grader.sandbox import BACKENDS
from grader.service.defaults import LEASE_SECONDS, MARGIN, MAX_ATTEMPTS, QUEUE_CAP, RESEND_SECONDS
from grader.service.queue.ratelimit import RateLimit

# The sandbox grade uses by default; never the unisolated process backend unless asked for by name.
DEFAULT_SANDBOX = "auto" if "auto" in BACKENDS else "docker"
DB_FILE = "pa5.db"
SECRET_FILE = "secret"
SESSION_KEY_FILE = "session.key"


def database_url_of(data_dir: Path, database_url: str | None) -> str:
    """--database URL, else the data folder's SQLite file."""
    return database_url or f"sqlite:///{(data_dir / DB_FILE).resolve()}"


class ServiceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(description="Folder of the database, the secret and temporary files.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///DATA/pa5.db.")
    sandbox: str = Field(DEFAULT_SANDBOX, description="Sandbox backend name, as for `pa5-grader grade`.")
    workers: int = Field(2, ge=0, le=64, description="Grades at once (serve's worker process); 0: none.")
    warm_pool: bool = Field(True, description="Keep one started sandbox per worker, ready for the next job.")
    spec_path: Path | None = Field(None, description="TOML spec overriding the built-in one.")
    secret_file: Path | None = Field(None, description="Grading secret; default DATA/secret, else $PA5_GRADER_SECRET.")
    insecure_default_secret: bool = Field(False, description="Use the public demo secret (demos only).")
    rate_limits: tuple[RateLimit, ...] = Field(
        (RateLimit(count=1, seconds=10), RateLimit(count=30, seconds=3600)),
        description="Per-student submission limits; all must hold.",
    )
    upload_max_bytes: int = Field(1 << 20, ge=1, description="Largest accepted upload (.py or .zip).")
    zip_max_members: int = Field(200, ge=1, description="Most entries in an uploaded zip.")
    zip_max_unpacked: int = Field(20 << 20, ge=1, description="Most bytes an uploaded zip may unpack to.")
    lease_seconds: float = Field(
        LEASE_SECONDS,
        gt=0,
        description="A claimed job returns to the queue this long after its worker is last heard from.",
    )
    max_attempts: int = Field(MAX_ATTEMPTS, ge=1, description="Claims of one job before it is failed.")
    queue_cap: int = Field(QUEUE_CAP, ge=1, description="Queued jobs beyond which new submissions get 429.")
    recovery_seconds: float = Field(5.0, gt=0, description="How often expired leases are looked for.")
    broker_url: str | None = Field(None, description="Celery broker: workers elsewhere grade; none: the embedded pool.")
    resend_seconds: float = Field(
        RESEND_SECONDS,
        gt=0,
        description="With a broker: send a queued job's message again when no worker took it for this long.",
    )
    grade_margin: float = Field(
        MARGIN,
        gt=0,
        le=3600,
        description="Seconds a grade may run past the spec's submission_timeout before it is stopped and failed.",
    )

    @property
    def db_url(self) -> str:
        return database_url_of(self.data_dir, self.database_url)

    @property
    def tmp_dir(self) -> Path:
        """Where uploads are unpacked and jobs are laid out: inside the data folder, nowhere else."""
        return self.data_dir / "tmp"
