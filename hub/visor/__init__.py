"""The citizen visor: a read-only page per resident for social workers, every look-up audited.

Data: the resident's social events from the wSocial outbox (what the social record
receives) and group memberships from the family network; the read model is
:func:`integrations.wsocial.visor.build_visor`.
"""

from hub.visor.app import setup
from hub.visor.routes import REASONS

__all__ = ["REASONS", "setup"]
