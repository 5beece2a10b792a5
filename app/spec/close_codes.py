"""WebSocket close codes (RFC 6455) with which the central system ends an OCPP-J connection."""
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
