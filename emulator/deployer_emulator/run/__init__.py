"""Cloud Run Admin API v2: services, revisions, their operations and IAM policies, with revisions really run.

Paths are the ones google-cloud-run 0.16 calls (``google/cloud/run_v2/services/services/transports/rest_base.py``
and ``.../revisions/transports/rest_base.py``). Bodies are parsed strictly with ``run_v2.Service``; required fields,
value formats and cross-field rules are checked by hand, with Google's wording where it is known (sources next to
each message; "unconfirmed" marks wording that follows Google's pattern without a captured example).

Revisions: with a container engine each new revision's image runs as a container on a free localhost port and is
Ready once its port accepts connections (Cloud Run's default startup probe is TCP on the container port,
https://cloud.google.com/run/docs/configuring/healthchecks). A service's ``uri`` is a per-service proxy on a port
that never changes (run/proxy.py), like Google's one URL per service. Without an engine, or for an image recorded by
a build that did not execute, the control plane is real but nothing runs, and the ``uri`` answers 503 saying so.
"""
