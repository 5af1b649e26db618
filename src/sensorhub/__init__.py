"""sensorhub: filters the night alarms of care homes into the few that need a person."""

__version__ = "0.1.0"
