"""Sans-I/O classification: events and time in, pages and audit records out."""
