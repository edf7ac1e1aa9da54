"""Credentials from the environment: which variables win, App keys as text or path, no secret leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth

from auditor.github.auth import Credentials, build_auth, credentials_from_env, token_identity
from auditor.github.errors import AuthError


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_github_token_wins_over_gh_token() -> None:
    creds = credentials_from_env({"GITHUB_TOKEN": "a-token", "GH_TOKEN": "b-token"})
    assert creds.token == "a-token" and creds.kind == "token"
    assert credentials_from_env({"GH_TOKEN": "b-token"}).token == "b-token"


def test_no_credentials_is_an_auth_error() -> None:
    with pytest.raises(AuthError):
        credentials_from_env({})
    with pytest.raises(AuthError, match="both"):
        credentials_from_env({"GITHUB_APP_ID": "1"})


def test_app_key_as_text_or_path(tmp_path: Path) -> None:
    key = pem()
    path = tmp_path / "app.pem"
    path.write_text(key, encoding="utf-8")
    from_text = credentials_from_env(
        {"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": key, "GITHUB_APP_INSTALLATION_ID": "34"}
    )
    from_path = credentials_from_env({"GITHUB_APP_ID": "12", "GITHUB_APP_PRIVATE_KEY": str(path)})
    assert from_text.private_key == from_path.private_key == key
    assert (from_text.kind, from_text.installation_id, from_path.installation_id) == ("app", 34, None)
    auth = build_auth(from_text)
    assert isinstance(auth, Auth.AppInstallationAuth)


def test_unreadable_key_path_is_an_auth_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="readable"):
        credentials_from_env({"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": str(tmp_path / "missing.pem")})


def test_app_without_installation_or_target_is_an_auth_error() -> None:
    creds = Credentials(app_id="1", private_key=pem())
    with pytest.raises(AuthError, match="INSTALLATION_ID"):
        build_auth(creds)


def test_secrets_never_in_repr_and_identity_is_a_hash() -> None:
    creds = Credentials(token="ghp_supersecret")
    assert "supersecret" not in repr(creds)
    ident = token_identity(creds)
    assert len(ident) == 16 and "supersecret" not in ident
    assert ident == token_identity(Credentials(token="ghp_supersecret"))
    assert ident != token_identity(Credentials(token="ghp_other"))


def test_an_unusable_app_key_is_refused_up_front_without_quoting_it() -> None:
    from auditor.github.auth import credentials_from_env
    from auditor.github.errors import AuthError

    broken = "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(AuthError, match="not a usable") as info:
        credentials_from_env({"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": broken})
    assert "c2VjcmV0" not in str(info.value)
