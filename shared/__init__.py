"""The suite's common package: configuration, storage, messaging, identity checks,
the plugin system and the message contracts that services exchange.

Nothing here knows any service: services depend on ``shared``, never the reverse.
"""
