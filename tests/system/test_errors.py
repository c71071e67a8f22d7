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
