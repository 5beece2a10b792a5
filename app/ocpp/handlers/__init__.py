"""OCPP 1.6 handlers of charge-point-initiated CALLs, one module per area; importing registers them."""
from app.ocpp.handlers import (authorize, boot, data_transfer, file_transfers, security, status,  # noqa: F401
                               transactions)
