"""Credentials and endpoints for the Google client libraries: real Google Cloud, or the local emulator.

``DEPLOYER_EMULATOR_URL=http://127.0.0.1:PORT`` points every client at the emulator. There the caller is carried in
an ``emulator:<member>`` bearer token (``DEPLOYER_EMULATOR_CALLER``, default ``user:developer@example.com``); against
Google, Application Default Credentials (in GitHub Actions: Workload Identity Federation, never a key).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from deployer import __version__
from deployer.errors import DeployerError

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_EMULATOR_CALLER = "user:developer@example.com"


@dataclass(frozen=True)
class Target:
    """Where requests go: ``emulator_url`` None means Google."""

    emulator_url: str | None
    caller: str = DEFAULT_EMULATOR_CALLER

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Target:
        env = os.environ if environ is None else environ
        url = env.get("DEPLOYER_EMULATOR_URL", "").strip().rstrip("/") or None
        return cls(emulator_url=url, caller=env.get("DEPLOYER_EMULATOR_CALLER", DEFAULT_EMULATOR_CALLER))

    @property
    def is_emulator(self) -> bool:
        return self.emulator_url is not None

    def console_url(self, path: str, project: str) -> str:
        """A Cloud Console link, or its stand-in on the emulator."""
        if self.emulator_url:
            return f"{self.emulator_url}/_emulator/state"
        return f"https://console.cloud.google.com/{path}?project={project}"


class _GoogleClient:
    """One google-cloud client class, imported and built on first use with the shared options, then kept.

    The import is lazy because the client libraries are slow to import and only some commands need each one.
    """

    def __init__(self, module: str, class_name: str) -> None:
        self.module = module
        self.class_name = class_name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, clients: Clients, owner: type) -> Any:
        client_class = getattr(importlib.import_module(self.module), self.class_name)
        client = client_class(**clients._options())
        clients.__dict__[self.name] = client  # later reads find it on the instance, not here
        return client


class Clients:
    """Builds each Google client once, lazily, with the same credentials and endpoint options."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._compute: dict[str, Any] = {}

    @cached_property
    def credentials(self) -> Any:
        if self.target.emulator_url:
            from google.oauth2.credentials import Credentials

            # A static token is never refreshed; the emulator reads the caller from it.
            return Credentials(token=f"emulator:{self.target.caller}")  # type: ignore[no-untyped-call]
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        except DefaultCredentialsError as exc:
            raise DeployerError(
                "no Google credentials found (Application Default Credentials are not set up)",
                "run `gcloud auth application-default login`; in GitHub Actions use google-github-actions/auth "
                "with Workload Identity Federation (see `deployer bootstrap --github`)",
            ) from exc
        return credentials

    def caller(self) -> str | None:
        """Who the credentials speak for, as an IAM member (``user:…`` or ``serviceAccount:…``); None if unknown.

        Only identities are read from the credentials, never a token.
        """
        if self.target.emulator_url:
            return self.target.caller
        credentials = self.credentials
        email = getattr(credentials, "service_account_email", None)
        if isinstance(email, str) and "@" in email:
            return f"serviceAccount:{email}"
        account = getattr(credentials, "account", None)
        if isinstance(account, str) and "@" in account:
            kind = "serviceAccount" if account.endswith(".gserviceaccount.com") else "user"
            return f"{kind}:{account}"
        return None

    def _options(self) -> dict[str, Any]:
        from google.api_core.gapic_v1.client_info import ClientInfo

        kwargs: dict[str, Any] = {
            "credentials": self.credentials,
            "transport": "rest",
            "client_info": ClientInfo(user_agent=f"deployer/{__version__}"),  # type: ignore[no-untyped-call]
        }
        if self.target.emulator_url:
            # The scheme is kept: without one the client would use https.
            kwargs["client_options"] = {"api_endpoint": self.target.emulator_url}
        return kwargs

    cloud_build = _GoogleClient("google.cloud.devtools.cloudbuild_v1", "CloudBuildClient")
    artifact_registry = _GoogleClient("google.cloud.artifactregistry_v1", "ArtifactRegistryClient")
    # Cloud Run's five clients share one module.
    run_services, run_revisions, run_jobs, run_executions, run_tasks = (
        _GoogleClient("google.cloud.run_v2", client)
        for client in ("ServicesClient", "RevisionsClient", "JobsClient", "ExecutionsClient", "TasksClient")
    )
    resource_manager = _GoogleClient("google.cloud.resourcemanager_v3", "ProjectsClient")
    billing = _GoogleClient("google.cloud.billing_v1", "CloudBillingClient")
    service_usage = _GoogleClient("google.cloud.service_usage_v1", "ServiceUsageClient")
    cloud_quotas = _GoogleClient("google.cloud.cloudquotas_v1", "CloudQuotasClient")
    budgets = _GoogleClient("google.cloud.billing.budgets_v1", "BudgetServiceClient")

    def logging(self, project: str) -> Any:
        """Cloud Logging's client over HTTP/JSON (its generated client has no REST transport)."""
        from google.cloud import logging

        return logging.Client(**self._handwritten_options(project), _use_grpc=False)  # type: ignore[no-untyped-call]

    def _handwritten_options(self, project: str) -> dict[str, Any]:
        """What the hand-written clients (Cloud Storage, Cloud Logging) take: they choose no transport."""
        from google.api_core.client_info import ClientInfo

        return {
            "project": project,
            "credentials": self.credentials,
            "client_options": {"api_endpoint": self.target.emulator_url} if self.target.emulator_url else None,
            "client_info": ClientInfo(user_agent=f"deployer/{__version__}"),  # type: ignore[no-untyped-call]
        }

    def api_root(self, host: str) -> str:
        """Where plain REST calls to ``host`` (e.g. ``iam.googleapis.com``) go: Google, or the emulator."""
        return self.target.emulator_url or f"https://{host}"

    @cached_property
    def session(self) -> Any:
        """An authorized requests session, for the APIs no REST-capable google-cloud library covers (IAM v1)."""
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(self.credentials)  # type: ignore[no-untyped-call]
        session.headers["User-Agent"] = f"deployer/{__version__}"
        return session

    def compute(self, client: str) -> Any:
        """A Compute Engine client by its class name, e.g. "InstancesClient" or "ZoneOperationsClient".

        compute_v1 takes about 2 s to import, so only the commands that reach Compute Engine import it.
        """
        if client not in self._compute:
            from google.cloud import compute_v1

            self._compute[client] = getattr(compute_v1, client)(**self._options())
        return self._compute[client]

    def storage(self, project: str) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        return storage.Client(**self._handwritten_options(project))


class Adapter:
    """The base of each API's adapter: it reaches Google through the shared Clients."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients


def polling(timeout_s: float, *, initial_s: float) -> Any:
    """How to wait on a long-running operation: first after ``initial_s``, then backing off to every 5 s."""
    from google.api_core.future import polling as api_polling

    return api_polling.DEFAULT_POLLING.with_delay(initial=initial_s, maximum=5.0, multiplier=1.5).with_timeout(
        timeout_s
    )
