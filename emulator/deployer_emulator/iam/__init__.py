"""IAM: the enforcer every surface answers to, IAM policies, and the IAM v1 REST surface.

**The enforcer** (installed as ``emulator.enforcer`` in the strict world; the open world has none and allows all).
``emulator.authorize(req, permission, resource)`` asks it, once per request, before a surface reads or changes
anything:

1. The caller is the member in the request's bearer token (``emulator:<member>``, core.caller_from_headers).
2. The API the request calls must be enabled, and past its propagation delay, on the project the request is
   attributed to, or the answer is Google's 403 SERVICE_DISABLED. Resource-based APIs (Compute, Cloud Run, Cloud
   Build, Artifact Registry, Cloud Storage, IAM, Logging) are attributed to the resource's project; client-based
   ones (Resource Manager, Cloud Billing, Billing Budgets) to the caller's quota project: the
   ``x-goog-user-project`` header, else a service account caller's own project, else Google's own project for
   user credentials without one, where everything is enabled
   (https://cloud.google.com/docs/quotas/quota-project). Service Usage itself never is.
3. The caller must hold ``permission`` on ``resource``: the union, over the IAM policies that apply (the resource's
   project, its folders and organization; a service account's own policy for permissions on it; a billing
   account's policy and its organization's), of the bindings whose members include the caller (``allUsers``,
   ``allAuthenticatedUsers`` and ``domain:`` members included). Roles map to permissions with roles.py (below).
   Conditions on bindings are kept but not evaluated: a conditional binding grants like a plain one.
   Otherwise the answer is the 403 of the API called, in its own words (``_denied``).

A resource the enforcer cannot place (a bucket that does not exist) is let through, so the surface answers its
own 404, as Google does.

**Roles.** roles.py loads Google's predefined roles, with their permissions, from ``data/gcp-roles.json`` (Google's
``roles.get`` output as the public iann0036/iam-dataset records it; ``scripts/refresh_gcp_roles.py`` fetches it
again). A binding naming a role Google does not define is refused with Google's INVALID_ARGUMENT "Role R is not
supported for this resource."; custom roles (``projects/P/roles/ID``) grant what they include. Cloud Storage's
"convenience values" (projectViewer/Editor/Owner on every bucket) are folded into the basic roles: they reach
object data.

**The IAM v1 surface** (https://cloud.google.com/iam/docs/reference/rest; paths as gcloud's generated iam_v1
client calls them): ``/v1/projects/{p}/serviceAccounts`` (create, list), ``.../serviceAccounts/{email|uniqueId}``
(get, patch, delete; ``projects/-`` too), ``...:getIamPolicy|setIamPolicy|testIamPermissions`` (POST), and
Workload Identity Federation: ``/v1/projects/{p}/locations/global/workloadIdentityPools`` (create with
``?workloadIdentityPoolId=``, list with ``showDeleted``), ``.../{pool}`` (get, patch, delete, ``:undelete``),
``.../{pool}/providers`` and ``.../providers/{provider}`` likewise, and their operations
``.../operations/{id}``. Deleted pools and providers stay for 30 days in state DELETED; their ids stay taken
(create answers 409) until then, and ``:undelete`` restores them. Bodies are checked field by field against the
IAM v1 discovery schema (as generated into gcloud's googlecloudsdk/generated_clients/apis/iam/v1/iam_v1_messages.py),
since no installed client library carries IAM v1 types.
"""
