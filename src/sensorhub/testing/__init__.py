"""Fixtures shipped for users' own tests: a private Mosquitto on a free loopback port."""
