"""The drill's report: each register's sales made against those HQ received, and its switches.

A switch is out of bounds when it went offline later than the profile's time-out allows (with
`GRACE_S` for a busy machine), or came back before the reconnection interval or in mid-sale.
"""

from dataclasses import dataclass, field
from datetime import datetime

from portal.agent import mode
from portal.agent.run import Tally

# A switch to offline may come this much after the time-out (a busy machine, the proxy's tick).
GRACE_S = 1.0


def out_of_bounds(tally: Tally, timing: mode.Timing) -> list[str]:
    """Switches the profile does not allow: late to go offline, early or mid-sale to come back."""
    found = []
    for switch in tally.switches:
        late = (
            switch.to == mode.OFFLINE
            and switch.took is not None
            and switch.took > timing.offline_timeout + GRACE_S
        )
        early = (
            switch.to == mode.ONLINE
            and switch.cause == "reconnected"
            and (switch.took < timing.reconnect_interval or not switch.at_sale_start)
        )
        if late:
            found.append(
                f"offline at {switch.wall} after {switch.took:.1f} s, past the "
                f"{timing.offline_timeout:.1f} s time-out"
            )
        if early:
            found.append(
                f"back online at {switch.wall} after {switch.took:.1f} s offline "
                f"(interval {timing.reconnect_interval:.1f} s, at a sale's start: "
                f"{switch.at_sale_start})"
            )
    return found


def seconds(moment: str) -> float:
    """An ISO 8601 moment as seconds since the epoch."""
    return datetime.fromisoformat(moment).timestamp()


@dataclass
class RegisterLine:
    """One register's part of the report."""

    number: str
    made: int
    received: int
    missing: list[str]
    duplicates: list[str]
    unknown: list[str]
    offline_sales: int
    to_offline: int
    back_online: int
    cut: int
    packages: int
    errors: list[str]
    out_of_bounds: list[str]

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, nothing unexplained."""
        return not (
            self.missing or self.duplicates or self.unknown or self.errors or self.out_of_bounds
        )


@dataclass
class Report:
    """What the drill found."""

    registers: list[RegisterLine] = field(default_factory=list)
    longest_to_hq: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every sale at HQ exactly once, every switch within the profile, no error."""
        return not self.errors and all(line.ok for line in self.registers)

    def lines(self) -> list[str]:
        """The report as printed."""
        made = sum(r.made for r in self.registers)
        received = sum(r.received for r in self.registers)
        out = [
            f"Sales made {made}, received at HQ {received}; "
            f"missing {sum(len(r.missing) for r in self.registers)}, "
            f"duplicated {sum(len(r.duplicates) for r in self.registers)}, "
            f"unknown {sum(len(r.unknown) for r in self.registers)}.",
            f"Longest time from sale to HQ: {self.longest_to_hq:.0f} s.",
            f"Packages applied: {sum(r.packages for r in self.registers)}.",
            "register          made  recvd  offline-sales  cut  to-offline  back  packages",
        ]
        for r in self.registers:
            out.append(
                f"{r.number:<16} {r.made:>5} {r.received:>6} {r.offline_sales:>14} "
                f"{r.cut:>4} {r.to_offline:>11} {r.back_online:>5} {r.packages:>9}"
                + ("" if r.ok else "  <- see below")
            )
        problems = [
            f"{r.number}: {kind} {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
            for r in self.registers
            for kind, items in (
                ("missing at HQ:", r.missing),
                ("at HQ twice:", r.duplicates),
                ("at HQ, never made here:", r.unknown),
                ("error:", r.errors),
                ("switch out of bounds:", r.out_of_bounds),
            )
            if items
        ]
        out += [*problems, *(f"error: {e}" for e in self.errors)]
        out.append(f"Errors: {len(problems) + len(self.errors)}.")
        out.append("Drill passed." if self.ok else "Drill FAILED.")
        return out
