"""The commands: thin shells that wire the engine, the store and the outside world."""
