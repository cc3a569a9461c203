"""The home gateway agent: reads sensors, applies local rules, publishes the contract,
keeps an on-disk queue while offline and obeys the hub's commands."""

from device_agent.local_rules import DEFAULT_FALL_CANCEL, FallCancelWindow, PendingFall

__all__ = ["DEFAULT_FALL_CANCEL", "FallCancelWindow", "PendingFall"]
