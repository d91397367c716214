"""The simulated calendar: `weeks` weeks ending on the export date.

Weeks run Monday 00:00 to Sunday 24:00 China Standard Time (UTC+8), the business's home
time zone; timestamps are kept as epoch seconds (UTC). Week `w` of the base export is
0..weeks-1; increment `k` adds week `weeks + k - 1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

DAY = 86_400
WEEK = 7 * DAY
CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Timeline:
    end_date: date  # last day (a Sunday) of the base export
    weeks: int

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=7 * self.weeks - 1)

    @property
    def start(self) -> int:
        """Epoch seconds of the first Monday 00:00 CST."""
        return int(datetime.combine(self.start_date, datetime.min.time(), CST).timestamp())

    def week_start(self, week) -> np.ndarray | int:
        return self.start + np.asarray(week, dtype=np.int64) * WEEK

    def end_of_week(self, week: int) -> int:
        return int(self.week_start(week + 1)) - 1

    def export_date(self, week: int) -> date:
        """The Sunday closing `week` (the export date of the files covering it)."""
        return self.start_date + timedelta(days=7 * int(week) + 6)

    def monday(self, week: int) -> date:
        return self.start_date + timedelta(days=7 * int(week))

    def week_of(self, seconds: np.ndarray) -> np.ndarray:
        return (np.asarray(seconds, dtype=np.int64) - self.start) // WEEK
