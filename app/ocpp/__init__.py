"""The OCPP 1.6 adapter over the domain services: the WebSocket transport, one session per charge point,
the router that turns a CALL into a handler's call of a service, and the handlers. What the spec itself
says (framing, schemas, failures, field types) is app.spec, which every layer may use."""
