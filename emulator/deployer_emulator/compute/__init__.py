"""Compute Engine v1: instances, their operations, firewalls, COS images, and the GPU catalogue with quotas.

Routes (URIs as in google-cloud-compute's REST transport, ``compute_v1/services/*/transports/rest_base.py``):
  ``POST|GET /compute/v1/projects/{p}/zones/{z}/instances``, ``GET|DELETE .../instances/{i}``,
  ``POST .../instances/{i}/setMetadata|reset|stop|start|setScheduling``, ``GET .../instances/{i}/serialPort``,
  ``GET /compute/v1/projects/{p}/aggregated/instances``;
  ``GET|DELETE .../zones/{z}/operations/{op}``, ``POST .../zones/{z}/operations/{op}/wait``,
  ``GET .../zones/{z}/operations``,
  the same under ``regions/{r}`` and ``global``;
  ``POST|GET /compute/v1/projects/{p}/global/firewalls``, ``GET|PATCH|DELETE .../global/firewalls/{f}``;
  ``GET /compute/v1/projects/{p}/global/images/family/{family}``, ``GET .../global/images/{image}``,
  ``GET .../global/images`` (the ``cos-cloud`` project's Container-Optimized OS images);
  ``GET /compute/v1/projects/{p}/aggregated/acceleratorTypes``, ``GET .../zones/{z}/acceleratorTypes[/{t}]``;
  ``GET /compute/v1/projects/{p}/aggregated/machineTypes``, ``GET .../zones/{z}/machineTypes[/{t}]``;
  ``GET /compute/v1/projects/{p}/regions[/{r}]``, ``GET .../zones[/{z}]``, ``GET /compute/v1/projects/{p}``.

How it behaves like Google:

- Bodies are parsed strictly with ``compute_v1.Instance`` / ``Firewall`` / ``Metadata`` / ``Scheduling``; Compute's
  enum-valued fields are strings in those types, so their values are checked here against the types' own enums.
  Unknown query parameters are refused, as Google's front end does.
- Errors have Compute's shape: ``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``.
- Every mutation answers a ``compute#operation`` (decimal uint64 ``id``, ``status`` RUNNING then DONE); failures that
  Compute reports asynchronously (QUOTA_EXCEEDED, ZONE_RESOURCE_POOL_EXHAUSTED) are the operation's
  ``error.errors[]`` with ``httpErrorStatusCode``/``httpErrorMessage``, never the HTTP answer of the insert.
  ``.../operations/{op}/wait`` blocks until DONE or Google's two-minute deadline.
- Quota: running instances consume their region's CPU and GPU metrics (the ``PREEMPTIBLE_*`` metric for Spot VMs when
  the project has that quota, else the standard one), ``GPUS_ALL_REGIONS`` and ``CPUS_ALL_REGIONS``; stopped
  instances keep only their disks and the ``INSTANCES`` count. ``regions.get`` and ``projects.get`` report limit and
  usage.
- Work is time-driven, not thread-driven: an operation is due ``compute_operation_s`` after it starts and is finished
  by the first request that looks at the Compute state after that, so it survives an emulator restart.
- No VM boots and no container runs: the serial console shows what the instance's cloud-init ``user-data`` would do
  on Container-Optimized OS (units written, the GPU driver installed before the units that need it, each unit's
  commands), and says that it is emulated.

The zones, the GPUs each zone offers, the machine types and their built-in GPUs are an emulator catalogue shaped
after https://cloud.google.com/compute/docs/gpus/gpu-regions-zones and https://cloud.google.com/compute/docs/gpus
(not authoritative: Google changes it often).

Settings (``PATCH /_emulator/settings``):
  ``compute_operation_s`` (0.2): how long an operation runs;
  ``compute_wait_timeout_s`` (120): how long ``wait`` blocks at most (Google: about two minutes);
  ``compute_exhausted_zones`` ([]): zones out of capacity, ``"ZONE"`` for everything or ``"ZONE/TYPE"`` for instances
  using that accelerator or machine type;
  ``compute_quota_overrides`` ({}): limits by region or ``"global"``, e.g. ``{"europe-west4": {"NVIDIA_L4_GPUS": 0},
  "global": {"GPUS_ALL_REGIONS": 8}}``, for every project;
  ``compute_clock_advance_s`` (0): seconds added to the clock that ends runs at ``scheduling.maxRunDuration``.
"""
