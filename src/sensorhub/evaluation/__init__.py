"""Ground truth, scoring and reports of replayed nights (researchers)."""
