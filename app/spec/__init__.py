"""What OCPP 1.6 (JSON, with its Security Whitepaper) says, and nothing of this application: framing
(protocol), payload validation (schemas), the failures of a CALL (failures), WebSocket close codes,
the wire form of messages (wire), the spec's field types (datatypes) and checks on outside values.

Anything may import this package; it imports nothing of the application (an import contract in
.importlinter holds it to that)."""
