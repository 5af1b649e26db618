"""The night coordinator's ward board (``sensorhub board``): what is open, who was paged and
who acknowledged, per site, in a browser at the nurses' station.

A process of its own beside ``serve``: it reads the store ``serve`` writes and follows the pages,
acknowledgements and status on the broker, and never publishes a page, so a board that crashes
never touches paging.
"""
