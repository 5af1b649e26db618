"""Incidents to pages: recipients and pager texts (sans-I/O)."""
