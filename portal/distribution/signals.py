"""What the distribution engine tells listeners when something needs a scheduler's attention.

Receivers (the alerts, here; packages above may subscribe too) connect at app set-up; the
senders never know who listens. Both are sent inside the open unit of work, so what a receiver
records is committed, or rolled back, with the failure itself.
"""

from blinker import Namespace

_signals = Namespace()

run_failed = _signals.signal(
    "run-failed",
    doc="""A distribution run ended `failed`; sent with `run_id` and `message`.""",
)

session_failed = _signals.signal(
    "session-failed",
    doc="""A download session ended failed (create, download or apply failed, its tries used).

    Sent with `session_id`, `channel_database_id`, `job_number`, `status` and `message`.
    """,
)
