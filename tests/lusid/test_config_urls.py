"""Issue 8, finding 12: bearer tokens (and the password grant's password) go over https, or over
plain http only to this machine; the message says exactly that."""

from __future__ import annotations

from pathlib import Path

import pytest

from iasync.lusid import LusidConfigError, load_lusid_config

GRANT = {
    "FBN_USERNAME": "alice",
    "FBN_PASSWORD": "pw",
    "FBN_CLIENT_ID": "c",
    "FBN_CLIENT_SECRET": "s",
}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/api",
        "http://127.9.9.9/api",
        "http://localhost:8123/api",
        "http://LOCALHOST/api",
        "http://[::1]:8123/api",
        "https://x.lusid.com/api",
    ],
)
def test_https_anywhere_and_plain_http_to_this_machine_are_accepted(
    tmp_path: Path, url: str
) -> None:
    config = load_lusid_config({"FBN_LUSID_URL": url, "FBN_ACCESS_TOKEN": "t"}, tmp_path)
    assert config.api_url == url


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://x.lusid.com/api", "x.lusid.com"),
        ("http://10.0.0.7:8080/api", "10.0.0.7"),
        ("http://localhost.example.com/api", "localhost.example.com"),
        ("http://128.0.0.1/api", "128.0.0.1"),
    ],
)
def test_plain_http_to_another_host_is_refused_saying_why(
    tmp_path: Path, url: str, host: str
) -> None:
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config({"FBN_LUSID_URL": url, "FBN_ACCESS_TOKEN": "t"}, tmp_path)
    message = str(caught.value)
    assert f"is plain http to {host}" in message
    assert "only to this machine (localhost, 127.0.0.0/8 or ::1" in message
    assert "use https://" in message


def test_a_plain_http_token_url_is_refused_too(tmp_path: Path) -> None:
    env = GRANT | {
        "FBN_LUSID_URL": "https://x.lusid.com/api",
        "FBN_TOKEN_URL": "http://idp.example.com/oauth2/token",
    }
    with pytest.raises(LusidConfigError, match="the token URL from the environment"):
        load_lusid_config(env, tmp_path)


def test_a_url_of_another_scheme_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config(
            {"FBN_LUSID_URL": "ftp://x.lusid.com/api", "FBN_ACCESS_TOKEN": "t"}, tmp_path
        )
    assert "must start with https:// (or http:// for a LUSID on this machine" in str(caught.value)


def test_a_password_in_a_refused_url_is_not_shown(tmp_path: Path) -> None:
    url = "http://user:s3cret-pass@lusid.example.com/api"
    with pytest.raises(LusidConfigError) as caught:
        load_lusid_config({"FBN_LUSID_URL": url, "FBN_ACCESS_TOKEN": "t"}, tmp_path)
    assert "s3cret-pass" not in str(caught.value)
