"""ISO 8601 durations (ISO 8601-1:2019 §5.5.2, the ``PnYnMnDTnHnMnS`` and ``PnW`` forms) and calendar arithmetic.

Years and months are calendar units: adding P1M to 31 January gives the last day of February, as a court
counting a retention period would.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Period":
        match = _PATTERN.match(text) if isinstance(text, str) else None
        if not match:
            raise PeriodError(f"{text!r} is not an ISO 8601 duration such as P10Y or P10Y6M")
        parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        return cls(
            years=parts["years"],
            months=parts["months"],
            days=parts["days"] + 7 * parts["weeks"],
            seconds=parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"],
            text=text,
        )

    def after(self, start: datetime) -> datetime:
        """``start`` plus this period: years and months first (day clamped to the month's end), then the rest."""
        return self._moved(start, 1)

    def before(self, end: datetime) -> datetime:
        """``end`` minus this period, the mirror of :meth:`after` (years and months first, day clamped)."""
        return self._moved(end, -1)

    def _moved(self, start: datetime, sign: int) -> datetime:
        total_months = start.month - 1 + sign * (self.months + 12 * self.years)
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        moved = start.replace(year=year, month=month, day=day)
        return moved + sign * timedelta(days=self.days, seconds=self.seconds)

    def exact(self) -> timedelta:
        """This period as a fixed length, for durations in weeks, days, hours, minutes or seconds only (a year or a
        month has no fixed length); :class:`PeriodError` otherwise."""
        if self.years or self.months:
            raise PeriodError(f"{self.text!r}: give days, hours or minutes (P7D, PT12H), not years or months")
        return timedelta(days=self.days, seconds=self.seconds)

    def at_least(self, years: int) -> bool:
        """True when this period is never shorter than ``years`` calendar years, whatever the start date."""
        probes = [datetime(2000, 2, 29), datetime(2001, 1, 31), datetime(2003, 3, 1), datetime(2004, 12, 31)]
        minimum = Period(years=years)
        return all(self.after(p) >= minimum.after(p) for p in probes)

    def __str__(self) -> str:
        return self.text
