"""Credentials from the environment: a token, or a GitHub App installation.

Credentials never come from flags (they would land in shell history) and their values never
appear in a repr, a log line or an exception message. `token_identity` gives caches a stable key
per identity without storing the secret itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from github import Auth, GithubException, GithubIntegration

from auditor.github.errors import AuthError

DEFAULT_BASE_URL = "https://api.github.com"


@dataclass(frozen=True)
class Credentials:
    """What the environment provides: a token, or an App id with its private key.

    `repr=False` on the secret fields keeps them out of tracebacks and debug output.
    """

    token: str | None = field(default=None, repr=False)
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    installation_id: int | None = None

    @property
    def kind(self) -> str:
        """ "token" or "app"."""
        return "token" if self.token else "app"


def _read_private_key(value: str) -> str:
    """GITHUB_APP_PRIVATE_KEY holds either the PEM text or a path to it; the key must load.

    Checking it here turns a truncated or wrong key into one clear AuthError (exit 3) before any
    request, instead of a failure deep inside the token exchange; the message never quotes the key.
    """
    text = value.strip()
    if text.startswith("-----BEGIN"):
        pem = value.replace("\\n", "\n") if "\\n" in value and "\n" not in text else value
    else:
        path = Path(text).expanduser()
        try:
            pem = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(
                f"GITHUB_APP_PRIVATE_KEY is neither PEM text nor a readable file ({exc.strerror})") from exc
    try:
        serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise AuthError("GITHUB_APP_PRIVATE_KEY is not a usable unencrypted PEM private key") from exc
    return pem


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    """Read GITHUB_TOKEN / GH_TOKEN, else GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY (+ installation id)."""
    env = os.environ if env is None else env
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if token:
        return Credentials(token=token.strip())
    app_id = env.get("GITHUB_APP_ID")
    key = env.get("GITHUB_APP_PRIVATE_KEY")
    if app_id and key:
        installation = env.get("GITHUB_APP_INSTALLATION_ID")
        try:
            installation_id = int(installation) if installation else None
        except ValueError as exc:
            raise AuthError("GITHUB_APP_INSTALLATION_ID must be a number") from exc
        return Credentials(app_id=app_id.strip(), private_key=_read_private_key(key), installation_id=installation_id)
    if app_id or key:
        raise AuthError("a GitHub App needs both GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY")
    raise AuthError("no credentials: set GITHUB_TOKEN (or GH_TOKEN), or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY")


def token_identity(creds: Credentials) -> str:
    """A short, stable, non-reversible id of the identity, for keying caches per token.

    Two tokens never share cached answers (what one may see, the other may not), and the
    cache never holds the token itself.
    """
    material = f"token:{creds.token}" if creds.token else f"app:{creds.app_id}:{creds.installation_id}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def build_auth(creds: Credentials, base_url: str = DEFAULT_BASE_URL, target: str | None = None) -> Auth.Auth:
    """A PyGithub Auth for the credentials.

    For an App without an installation id, the installation is looked up for `target`
    ("owner/name" or an organisation), which costs one JWT-authenticated request.
    """
    if creds.token:
        return Auth.Token(creds.token)
    if not creds.app_id or not creds.private_key:
        raise AuthError("incomplete GitHub App credentials")
    app_auth = Auth.AppAuth(creds.app_id, creds.private_key)
    installation_id = creds.installation_id
    if installation_id is None:
        installation_id = _find_installation(app_auth, base_url, target)
    return app_auth.get_installation_auth(installation_id)


def _find_installation(app_auth: Auth.AppAuth, base_url: str, target: str | None) -> int:
    if not target:
        raise AuthError("GITHUB_APP_INSTALLATION_ID is needed when no repository or organisation is given")
    integration = GithubIntegration(auth=app_auth, base_url=base_url, seconds_between_requests=None)
    try:
        if "/" in target:
            owner, name = target.split("/", 1)
            installation = integration.get_repo_installation(owner, name)
        else:
            installation = integration.get_org_installation(target)
    except GithubException as exc:
        raise AuthError(f"the GitHub App is not installed on {target} (HTTP {exc.status})") from exc
    finally:
        integration.close()
    return int(installation.id)
