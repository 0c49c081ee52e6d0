"""What the distribution tells the packages above it: a session that ended failed.

A higher package (alerts, webhooks) connects a receiver at app set-up; the distribution sends
without knowing who listens.
"""

from blinker import Namespace

_signals = Namespace()

session_failed = _signals.signal(
    "session-failed",
    doc="""A download session ended failed (create, download or apply), in the open unit of work.

    Sent with the DownloadSession as sender, once it holds its final status and message.
    """,
)
