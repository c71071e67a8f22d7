"""/healthz, /metrics and /schema."""


async def test_healthz_answers_ok(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_metrics_expose_requests_and_store_figures(client, alice):
    await client.get("/api/v1/me", headers=alice.headers)
    text = (await client.get("/metrics")).text
    assert "instamini_requests_total" in text
    assert 'instamini_cache_hits_total{table="sessions"}' in text
    assert "instamini_meta_shards 4.0" in text


async def test_openapi_documents_every_api_route(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in [
        "/api/v1/accounts",
        "/api/v1/sessions",
        "/api/v1/sessions/current",
        "/api/v1/me",
        "/api/v1/users/{username}",
        "/api/v1/users/{username}/followers",
        "/api/v1/users/{username}/following",
        "/api/v1/users/{username}/follow",
        "/api/v1/users/{username}/block",
        "/api/v1/follow-requests",
        "/api/v1/follow-requests/{username}/approve",
        "/api/v1/follow-requests/{username}/reject",
    ]:
        assert path in paths, path


async def test_metrics_are_documented_as_the_text_format_they_answer(client):
    """Found by tests/reliability/test_schemathesis.py: the OpenAPI said /metrics answers JSON."""
    documented = (await client.get("/schema/openapi.json")).json()["paths"]["/metrics"]["get"]["responses"]["200"]
    answered = (await client.get("/metrics")).headers["content-type"]
    assert list(documented["content"]) == [answered]
