"""App keys of the outbox context: the ``[wsocial]`` settings and the delivery worker (present
only when ``[wsocial] enabled``)."""

from __future__ import annotations

from aiohttp import web

from integrations.wsocial.delivery import DeliveryWorker, FhirEndpointSettings

WSOCIAL_SETTINGS = web.AppKey("wsocial_settings", FhirEndpointSettings)
OUTBOX_WORKER = web.AppKey("wsocial_outbox_worker", DeliveryWorker)
