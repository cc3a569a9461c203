"""App keys of home ownership: who is told of partitions gained and lost, and the loop."""

from __future__ import annotations

from aiohttp import web

from hub.cluster.owner import Ownership, PartitionParticipant

# Told when this worker starts or stops owning a partition: append in your context's
# cleanup_ctx before ownership starts (ingestion's transport, the alarm engine's cache).
PARTITION_PARTICIPANTS = web.AppKey("partition_participants", list[PartitionParticipant])
# Present only when ``hub.partitions`` > 0.
OWNERSHIP = web.AppKey("ownership", Ownership)
