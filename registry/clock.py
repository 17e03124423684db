"""The one place that reads the clock. The calendar is China Standard Time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(CST)


def today() -> date:
    return now().date()


def cst_date(moment: datetime) -> date:
    """The calendar day of a moment in China; a naive moment is taken as China time already."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(CST).date()
