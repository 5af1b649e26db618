"""The only places that touch the network."""
