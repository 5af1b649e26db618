"""Durations as technicians write them (``90s``, ``15m``, ``1h30m``), for messages and help.

A module of its own, without the rule files' models, so that the light commands (``mute``,
``silences``) can say a duration without importing them.
"""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``, ``90`` -> ``1m30s``: durations as a technician writes them."""
    if seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")
