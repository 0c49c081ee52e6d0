"""What setup tells the packages above it before it changes what they may hold on to.

A package above `setup` (the distribution's history of runs and sessions) subscribes at app
set-up; `setup` sends without knowing who listens.
"""

from blinker import Namespace

_signals = Namespace()

store_deleting = _signals.signal(
    "store-deleting",
    doc="""A store and its channel database are about to be deleted, in the open unit of work.

    Sent with `store` and `database` (its ChannelDatabase, or None) after setup's own checks
    passed; a receiver refuses the deletion by raising a DomainError (Conflict), which the
    caller lets through, so nothing is deleted.
    """,
)
