"""Time for the register's loop: a real clock, or one a test moves by hand."""

import threading
import time


class Clock:
    """Monotonic seconds and sleeping, as the loop sees them; the real one by default."""

    def now(self) -> float:
        """Seconds on a clock that never goes back."""
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Wait this long, or until `stop` is set."""
        if seconds <= 0:
            return
        if stop is None:
            time.sleep(seconds)
        else:
            stop.wait(seconds)


class ManualClock(Clock):
    """A clock whose sleeps pass at once: a loop of hours runs in moments, in order.

    Requests still take their real time (a time-out is HTTP's own), so tests pair it with a
    small `--time-scale` for the profile's time-out.
    """

    def __init__(self, start: float = 0.0):
        self.moment = start
        self.lock = threading.Lock()

    def now(self) -> float:
        """The clock's current moment."""
        with self.lock:
            return self.moment

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Move the clock on by `seconds` at once."""
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move the clock on, as time passing would."""
        with self.lock:
            self.moment += seconds
