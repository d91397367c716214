"""Progress of long command-line work: one line per stage on stderr (stage, rows, seconds,
rate), and in a terminal a progress bar over the stages (tqdm)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, name: str, stages: int | None = None) -> None:
        self.name = name
        self.t0 = self.last = time.perf_counter()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=stages, desc=name, unit="stage", file=sys.stderr, leave=False)

    def __call__(self, stage: str, rows: int | None = None) -> None:
        now = time.perf_counter()
        seconds = now - self.last
        done = "" if rows is None else f"{rows:>12,} rows"
        rate = f" ({rows / seconds:,.0f} rows/s)" if rows and seconds > 0.5 else ""
        line = f"[{self.name}] {stage:<28} {done} {seconds:7.1f} s{rate}"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
            self.bar.set_postfix_str(stage)
            self.bar.update()
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
