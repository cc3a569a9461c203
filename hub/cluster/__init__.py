"""One owner per home across hub workers: partitions, leases in PostgreSQL, the ownership
loop (docs/adr/0147)."""

from hub.cluster.leases import LeaseStore, PartitionCountMismatch, held_epochs, holds
from hub.cluster.owner import Ownership, PartitionParticipant
from hub.cluster.partitions import DEFAULT_PARTITIONS, assign, partition_of

__all__ = [
    "DEFAULT_PARTITIONS",
    "LeaseStore",
    "Ownership",
    "PartitionCountMismatch",
    "PartitionParticipant",
    "assign",
    "held_epochs",
    "holds",
    "partition_of",
]
