"""Bad input is a 400 whose detail names the problem: never a 500."""


async def test_deeply_nested_json_is_a_400_not_a_500(client):
    body = b'{"username":' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await client.post("/api/v1/accounts", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON body is nested too deeply"
    assert (await client.get("/healthz")).status_code == 200


async def test_validation_detail_names_the_field(client):
    response = await client.post("/api/v1/accounts", json={"username": 5, "password": "long enough"})
    assert response.status_code == 400
    assert response.json()["detail"] == "username: Expected `str`, got `int`"
    assert response.json()["extra"][0]["key"] == "username"


async def test_empty_cursor_means_first_page(client, alice, bob):
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    response = await client.get("/api/v1/users/bob/followers?cursor=&limit=5")
    assert response.status_code == 200
    assert [item["username"] for item in response.json()["items"]] == ["alice"]


def test_document_errors_keeps_one_error_per_status_code():
    """Litestar documents errors sharing a status code as a oneOf, which no error body can pass."""
    from types import SimpleNamespace

    from instamini.errors import Conflict, Forbidden, NotAuthenticated, NotFound, document_errors

    class AlsoForbidden(Forbidden):
        pass

    handler = SimpleNamespace(raises=[NotFound, AlsoForbidden])
    document_errors(handler, NotAuthenticated, Forbidden, Conflict, NotAuthenticated)
    assert handler.raises == [NotFound, AlsoForbidden, NotAuthenticated, Conflict]


async def test_every_route_behind_the_authentication_documents_its_401(client):
    """Found by tests/reliability/test_schemathesis.py: no route documented 401 or 403 (a bad token
    is a 401 on any route the middleware covers; a cookie-authenticated change without CSRF a 403)."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert {"401", "404"} <= set(paths["/api/v1/posts/{post_id}"]["get"]["responses"])
    assert {"401", "403", "404"} <= set(paths["/api/v1/posts/{post_id}/like"]["post"]["responses"])
    assert "401" not in paths["/healthz"]["get"]["responses"]  # the middleware skips it
    register = paths["/api/v1/accounts"]["post"]["responses"]
    assert {"403", "409", "429"} <= set(register) and "401" not in register
