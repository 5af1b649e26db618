"""Foreign sensor payloads (Zigbee2MQTT, the Milesight VS373 radar, Frigate cameras, Home
Assistant's statestream) mapped to contract events, sans-I/O (docs/contract.md section 2, "Sensor
sources"; docs/sources.md).

- :mod:`sensorhub.sources.spec`: what a source is once its rules are compiled (plain data: the
  devices table, the field rules per kind, where ``ts`` comes from);
- :mod:`sensorhub.sources.presets`: the built-in presets, as data of that same shape;
- :mod:`sensorhub.sources.mapper`: the mapping of one message to events, the repeats dropped,
  and the table of last states that makes a repeat a repeat (kept across restarts).

The rule-file models are in :mod:`sensorhub.rules.sources`; this package comes before ``rules``
in the layout (it turns bytes into events, as ``codec`` does), so that the rules can check a
source against its preset.
"""

from sensorhub.sources.mapper import Mapped, SourceMap
from sensorhub.sources.presets import PRESETS
from sensorhub.sources.spec import DeviceSpec, FieldRule, SourceSpec, TsSpec

__all__ = ["PRESETS", "DeviceSpec", "FieldRule", "Mapped", "SourceMap", "SourceSpec", "TsSpec"]
