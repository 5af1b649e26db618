"""Bytes in, validated events and dead letters out: MQTT payloads, JSONL lines, Parquet batches."""
