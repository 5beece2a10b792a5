import httpx
import pytest


@pytest.fixture
async def api(server):
    """An HTTP client of the server's API port."""
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        yield client
