"""What a credential looks like, by name and by content, so that none is uploaded in a build context.

Every file is read to its end (``CredentialScanner`` is fed the file in chunks, in the same pass that hashes it for
the content tag: see services/filescan.py), because a private key pasted into the middle of a large file is as much
a leak as one at the top. A reason names the kind of credential, never its content.
"""

from __future__ import annotations

import posixpath
import re

# PEM ("BEGIN RSA PRIVATE KEY", "BEGIN OPENSSH PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY", ...) and OpenPGP's
# ASCII armour ("BEGIN PGP PRIVATE KEY BLOCK"); a certificate or a public key is not a secret.
_PRIVATE_KEY_RE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_START = b"-----BEGIN "
# Google's credential files, whatever their name: a service-account key, gcloud's authorized_user (a refresh token),
# a workload identity federation config (external_account). https://google.aip.dev/auth/4112, /4117.
_GOOGLE_CREDENTIAL_RE = re.compile(rb'"type"\s*:\s*"(service_account|authorized_user|external_account)"')
_GOOGLE_KINDS = {
    b"service_account": "a service account key",
    b"authorized_user": "gcloud user credentials (authorized_user)",
    b"external_account": "a workload identity federation credential (external_account)",
}
_SERVICE_ACCOUNT_KEY_MARK = b'"private_key"'
# A match may straddle two chunks: the longest pattern above is under this many bytes.
_OVERLAP = 256

_ENV_ASSIGNMENT_RE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=(.*)$")
_ENV_TEMPLATE_WORDS = frozenset({"example", "sample", "template", "dist", "defaults"})
_NPM_TOKEN_RE = re.compile(rb"_authToken\s*=|_auth\s*=|_password\s*=")
_AWS_SECRET_RE = re.compile(rb"aws_secret_access_key|aws_session_token", re.IGNORECASE)
# ssh-keygen's default names; the .pub half is public.
_SSH_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"})
_PKCS12_SUFFIXES = (".p12", ".pfx")
# Files whose whole text is kept for their rules (.env values, .npmrc tokens, AWS keys): they are small in practice;
# past this, only their start is kept for those rules, while the key scan still reads everything.
_TEXT_RULE_MAX = 1024 * 1024


def _is_env_file(name: str) -> bool:
    """``.env``, ``.env.production``, ``prod.env``, ``.envrc``; not ``.env.example`` or ``example.env``."""
    if name in (".env", ".envrc"):
        return True
    if name.startswith(".env."):
        return name[len(".env.") :] not in _ENV_TEMPLATE_WORDS
    if name.endswith(".env") and len(name) > len(".env"):
        stem = name[: -len(".env")].rstrip(".").lower()
        return stem not in _ENV_TEMPLATE_WORDS
    return False


def env_has_values(text: str) -> bool:
    """Whether any ``NAME=value`` line has a value (an empty or commented-out value is a template, not a secret)."""
    for line in text.splitlines():
        match = _ENV_ASSIGNMENT_RE.match(line)
        if match is None:
            continue
        value = match.group(1).strip()
        if value.startswith("#"):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].strip()
        if value:
            return True
    return False


def name_reason(path: str) -> str | None:
    """A reason from the name alone: kinds whose every instance is a secret."""
    name = posixpath.basename(path)
    lowered = name.lower()
    if lowered.endswith(_PKCS12_SUFFIXES):
        return "a PKCS#12 key (.p12/.pfx)"
    if name in (".netrc", "_netrc"):
        return "a .netrc (logins and passwords)"
    if name in _SSH_KEY_NAMES:
        return "an SSH private key"
    return None


class CredentialScanner:
    """Fed one file's bytes in order; ``reason()`` says what credential it holds, or None."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._name = posixpath.basename(path)
        self._is_env = _is_env_file(self._name)
        self._is_npmrc = self._name == ".npmrc"
        self._is_aws = self._name == "credentials" or (self._name == "config" and "/.aws/" in f"/{path}")
        self._keeps_text = self._is_env or self._is_npmrc or self._is_aws
        self._text = bytearray()
        self._tail = b""
        self._first_byte: int | None = None  # the first non-blank byte: "{" for a JSON document
        self._private_key = False
        self._google: bytes | None = None
        self._service_account_mark = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._first_byte is None:
            stripped = chunk.lstrip()
            if stripped:
                self._first_byte = stripped[0]
        window = self._tail + chunk
        # A literal find first: the regular expressions run only where a marker can be, which keeps the scan of
        # hundreds of MB of CSV or weights at memory speed.
        if not self._private_key and _PEM_START in window and _PRIVATE_KEY_RE.search(window):
            self._private_key = True
        if self._first_byte == ord("{"):
            if self._google is None and b'"type"' in window:
                match = _GOOGLE_CREDENTIAL_RE.search(window)
                if match is not None:
                    self._google = match.group(1)
            if not self._service_account_mark and _SERVICE_ACCOUNT_KEY_MARK in window:
                self._service_account_mark = True
        if self._keeps_text and len(self._text) < _TEXT_RULE_MAX:
            self._text += chunk[: _TEXT_RULE_MAX - len(self._text)]
        self._tail = window[-_OVERLAP:]

    def reason(self) -> str | None:
        # A service_account document without its private key is a config file, not a key.
        if self._google is not None and (self._google != b"service_account" or self._service_account_mark):
            return _GOOGLE_KINDS[self._google]
        if self._is_env and env_has_values(self._text.decode("utf-8", errors="replace")):
            return "an .envrc with values" if self._name == ".envrc" else "a .env file with values"
        if self._private_key:
            return "a private key"
        if self._is_npmrc and _NPM_TOKEN_RE.search(self._text):
            return "an .npmrc with a registry token"
        if self._is_aws and _AWS_SECRET_RE.search(self._text):
            return "AWS credentials"
        return name_reason(self._path)
