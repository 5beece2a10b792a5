"""Docker's HEALTHCHECK: GET /healthz on the API port of this container (PORT where set)."""
import os
import ssl
import sys
import urllib.request

port = os.environ.get("PORT") or os.environ.get("OCPP_API_PORT", "9001")
tls = os.environ.get("OCPP_USE_TLS", "false").strip().lower() in ("1", "true", "yes", "on")
context = ssl._create_unverified_context() if tls else None  # our own certificate, on localhost
try:
    with urllib.request.urlopen(f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz", timeout=4,
                                context=context) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
