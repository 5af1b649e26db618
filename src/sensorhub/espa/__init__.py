"""The ESPA 4.4.4 paging protocol, sans-I/O: framing, the link state machine, call profiles."""
