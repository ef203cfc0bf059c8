"""Domains, message bodies, configuration errors, exports, and the core's import boundary."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lark_events_core.outbound as outbound
from lark_events_core import Card, ConfigurationError
from lark_events_core.outbound import FEISHU, LARK, OpenAPIClient, client_from_env
from lark_events_core.outbound.domains import resolve_base_url
from lark_events_core.outbound.messages import card_content, check_receive_id_type, text_content


def test_domains_and_base_url_overrides() -> None:
    assert resolve_base_url("feishu", {}) == FEISHU == "https://open.feishu.cn"
    assert resolve_base_url("lark", {}) == LARK == "https://open.larksuite.com"
    assert resolve_base_url(None, {}) == FEISHU
    assert resolve_base_url(None, {"LARK_DOMAIN": "lark"}) == LARK
    env = {"LARK_OPENAPI_BASE_URL": "http://127.0.0.1:8080/", "LARK_DOMAIN": "lark"}
    assert resolve_base_url(None, env) == "http://127.0.0.1:8080"
    assert resolve_base_url("https://proxy.example/lark", env) == "https://proxy.example/lark"
    for bad in ("ftp://x", "open.feishu.cn", "https://x/?a=1"):
        with pytest.raises(ConfigurationError):
            resolve_base_url(bad, {})


def test_client_from_env() -> None:
    assert client_from_env({}) is None
    assert client_from_env({"LARK_APP_ID": "cli_x"}) is None
    env = {
        "LARK_APP_ID": "cli_x",
        "LARK_APP_SECRET": "s",
        "LARK_APP_TYPE": "store",
        "LARK_OPENAPI_BASE_URL": "http://127.0.0.1:1",
    }
    client = client_from_env(env)
    assert client is not None
    assert (client.app_id, client.app_type, client.base_url) == (
        "cli_x",
        "store",
        "http://127.0.0.1:1",
    )
    with pytest.raises(ConfigurationError):
        OpenAPIClient.from_env({**env, "LARK_APP_TYPE": "other"})
    with pytest.raises(ConfigurationError):
        OpenAPIClient.from_env({"LARK_APP_ID": "cli_x"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_secret": " "}, "app_secret"),
        ({"app_type": "custom"}, "app_type"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_configuration_fails_when_the_client_is_built(
    kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {"app_id": "cli_x", "app_secret": "s", **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        OpenAPIClient(**args)  # type: ignore[arg-type]


def test_message_bodies() -> None:
    assert text_content('say "hi"') == '{"text":"say \\"hi\\""}'
    assert card_content(Card.raw({"elements": []})) == '{"elements":[]}'
    assert card_content(Card.template("tpl", version="1.0")) == (
        '{"type":"template","data":{"template_id":"tpl","template_version_name":"1.0"}}'
    )
    for ok in ("open_id", "user_id", "union_id", "email", "chat_id"):
        assert check_receive_id_type(ok) == ok
    with pytest.raises(ValueError, match="receive_id_type"):
        check_receive_id_type("phone")


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name in dir(outbound)
        if not name.startswith("_")
        and name
        not in {
            "annotations",
            "client",
            "domains",
            "errors",
            "messages",
            "replier",
            "retry",
            "tickets",
            "tokens",
            "transport",
        }
    }
    assert set(outbound.__all__) == public


def test_importing_the_core_never_imports_the_outbound_client_or_aiohttp() -> None:
    code = (
        "import sys, lark_events_core, lark_events_core.testing; "
        "bad = [m for m in ('aiohttp', 'lark_events_core.outbound') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
