"""The OCPP 1.6 adapter (WebSocket transport, session, router, handlers) over the domain services,
and beneath everything its spec layer (app.ocpp.spec)."""
