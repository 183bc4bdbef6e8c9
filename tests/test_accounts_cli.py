"""`kb users`, `kb grant` / `kb revoke` and `kb search --as` as an operator uses them: real
`kb` processes and a real `kb serve`."""

import json

import httpx

from ingest.pipeline import ingest
from tests.security_world import write_collections
from tests.serving import KbServe, kb_env, run_kb

OPERATOR = "operator-s3cret"


def test_accounts_and_grants_from_the_command_line(settings, tmp_path, embedder):
    for collection, folder in write_collections(tmp_path / "docs").items():
        ingest(settings, folder, collection=collection, embedder=embedder)
    env = kb_env(settings.data_dir, auth_token=OPERATOR)
    added = run_kb(env, "users", "add", "alice", "--group", "everyone")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("kb_") and "shown once" in added.stderr
    assert token not in (settings.data_dir / "chat.sqlite").read_bytes().decode("latin-1")
    assert run_kb(env, "users", "add", "alice").returncode == 1  # exists: no second token
    assert run_kb(env, "grant", "hr", "alice").returncode == 0
    assert run_kb(env, "grant", "handbook", "@everyone").returncode == 0
    assert run_kb(env, "grant", "thread-x", "alice").returncode == 1
    listed = json.loads(run_kb(env, "users", "list", "--json").stdout)
    assert [(u["name"], [g["collection"] for g in u["grants"]]) for u in listed] == [
        ("alice", ["handbook", "hr"])
    ]
    with KbServe(env, tmp_path / "serve.log") as server:

        def search_as(user: str) -> set[str]:
            found = run_kb(env, "search", "Zephyrcorp", "-k", "10", "--as", user, "--json")
            assert found.returncode == 0, found.stderr
            return {hit["source"] for hit in json.loads(found.stdout)}

        assert search_as("alice") == {"leave.md", "welcome.md"}
        assert run_kb(env, "revoke", "hr", "alice").returncode == 0
        assert search_as("alice") == {"welcome.md"}
        me = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"] == "alice"
        rotated = run_kb(env, "users", "rotate", "alice").stdout.strip()
        old = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert old.status_code == 401
        new = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {rotated}"})
        assert new.status_code == 200
        assert run_kb(env, "users", "remove", "alice").returncode == 0
        gone = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {rotated}"})
        assert gone.status_code == 401
        no_token = run_kb({**env, "KB_AUTH_TOKEN": ""}, "search", "Zephyrcorp")
        assert no_token.returncode == 1 and "missing or wrong token" in no_token.stderr
    local = run_kb(env, "search", "Zephyrcorp", "--as", "alice")
    assert local.returncode == 1 and "needs `kb serve`" in local.stderr
