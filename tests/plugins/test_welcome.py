"""The example plugin in plugins/welcome.py: its route and its event handler."""

from tests.conftest import register


async def test_welcome_greets_and_counts_registrations(client, alice):
    await register(client, "dave")
    response = await client.get("/api/v1/plugins/welcome", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "Welcome, alice!", "joined_since_start": 2}


async def test_welcome_needs_login(client):
    response = await client.get("/api/v1/plugins/welcome")
    assert response.status_code == 401
