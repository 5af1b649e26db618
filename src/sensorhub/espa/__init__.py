"""The ESPA 4.4.4 paging protocol, sans-I/O: framing, the link state machine, call profiles.

Nothing here reads a clock or touches a socket; ``sensorhub.io.espa`` owns the connection and
the timers and drives the ``Link``. See docs/espa.md.

- ``framing``: control characters, blocks, the BCC, and the ``Framer`` (bytes -> tokens);
- ``records``: the call to a pager (``Call``), status blocks and the call-status values;
- ``profiles``: a contract ``Page`` -> a ``Call`` (``CallProfile``, ``display_text``);
- ``link``: the control station's end (``Link``), which sends calls and polls for status.

The paging system's end, which only the simulator speaks, is ``simulators.espa_receiver``.
"""
