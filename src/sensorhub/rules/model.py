"""Rule-file models: what a technician may write, with bounds and a description on every field.

A rule file layers parameters: the shipped defaults, then the file's ``defaults``, then a site,
a room and the room's resident. Every parameter may be set at every level; the most specific
one wins. See ``rules/default.yaml`` for the reference care policy's values.

A site may also describe its ``staff`` (pagers, groups, wings, shifts, routes); ``escalation``
is a parameter like the others, layered per priority. Once a site has ``staff``, every pager or
group it names must be defined there: the validators report each unknown name at its own place
in the file (so at its own line), with a did-you-mean. See docs/routing.md.

A site may name its ESPA 4.4.4 paging systems under ``paging`` (:class:`EspaConfig` each, see
docs/espa.md).

The models live by concern; this module gathers them, for ``from sensorhub.rules.model import``:

- :mod:`sensorhub.rules.parameters`: the care policy's parameters (night, recipients, the
  durations and thresholds), and the room and resident that set them;
- :mod:`sensorhub.rules.staff`: staff (pagers, groups, wings, shifts, routes) and escalation;
- :mod:`sensorhub.rules.sites`: a site and the whole file, and the pager and group names they
  must define;
- :mod:`sensorhub.rules.common`: what they share (durations, times of day, name lists);
- :mod:`sensorhub.durations`: the one grammar of durations (also for the commands).
"""

from __future__ import annotations

from sensorhub.rules.common import Duration, priorities
from sensorhub.rules.paging import EspaConfig
from sensorhub.rules.parameters import (
    NightWindow,
    Parameters,
    Recipients,
    ResidentRules,
    RoomRules,
)
from sensorhub.rules.sites import RuleFile, SiteRules, inherited_targets, named_targets
from sensorhub.rules.staff import (
    MAX_STEPS,
    RESERVED_TARGETS,
    SAME,
    STEP_AFTER_MAX,
    STEP_AFTER_MIN,
    TEAM,
    Escalation,
    EscalationStep,
    Pager,
    Route,
    Schedule,
    Staff,
    Steps,
    unknown_name,
)

__all__ = [
    "MAX_STEPS",
    "RESERVED_TARGETS",
    "SAME",
    "STEP_AFTER_MAX",
    "STEP_AFTER_MIN",
    "TEAM",
    "Duration",
    "Escalation",
    "EscalationStep",
    "EspaConfig",
    "NightWindow",
    "Pager",
    "Parameters",
    "Recipients",
    "ResidentRules",
    "RoomRules",
    "Route",
    "RuleFile",
    "Schedule",
    "SiteRules",
    "Staff",
    "Steps",
    "inherited_targets",
    "named_targets",
    "priorities",
    "unknown_name",
]
