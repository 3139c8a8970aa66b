"""Cloud Build v1: create (LRO), get, list, cancel builds, the build operations, and the execution of docker steps.

Routes (URIs as in google-cloud-build's REST transport, ``cloudbuild_v1/services/cloud_build/transports/rest_base.py``):
  ``POST|GET /v1/projects/{p}/builds`` and ``/v1/projects/{p}/locations/{l}/builds``, ``GET .../builds/{id}``,
  ``POST .../builds/{id}:cancel``, ``GET /v1/operations/{name=**}`` (global builds' operations,
  ``operations/build/{project}/{base64 id}``), ``GET /v1/projects/{p}/locations/{l}/operations/{id}``, their
  ``:cancel``, ``GET /v1/projects/{p}/locations/{l}/defaultServiceAccount``, and the admin route
  ``GET /_emulator/builds/{id}/log`` (the build's ``logUrl``: the whole log as text).

What a build does here:

- Validation at create follows Cloud Build's (mirrored from GoogleCloudPlatform/cloud-build-local, validate/validate.go
  and subst/subst.go, the open-source local runner of the same service): steps present and named, step ids and
  ``waitFor``, ``KEY=VALUE`` env entries, substitution keys (``_[A-Z0-9_]+`` or overridable built-ins), every
  ``$VAR``/``${VAR}`` known and every substitution used (unless ``options.substitutionOption`` is ALLOW_LOOSE, which
  turns both into empty strings / no error), image and step names in docker reference form, build tags. Substitutions
  are applied to step name/args/env/dir/entrypoint, ``images`` and ``tags`` (``$$`` is a literal ``$``).
- A ``source.storageSource`` must name an existing object: a 400 at create otherwise.
- With a container engine, steps run in order (``waitFor`` concurrency is not reproduced): docker builder steps
  (``gcr.io/cloud-builders/docker``, ``docker``) with ``build``, ``tag`` and ``push`` run through the engine;
  ``--network=cloudbuild`` (there is no such network locally), ``--cache-from`` (podman needs a repository for it; the
  local layer cache applies anyway) and ``--progress`` (BuildKit only) are dropped, and the log says so. Step ``env``
  is not forwarded: the engine's build runs with the emulator's environment (only the docker CLI reads those
  variables, never the Dockerfile). Any other builder fails the build with a statusDetail naming it.
  ``images[]`` are then "pushed": recorded in Artifact Registry with the engine's image id as digest (the image's
  config digest: nothing is pushed to a real registry, so there is no manifest digest).
- Without an engine nothing is executed: the build ends SUCCESS with statusDetail ``not executed: ...``, and images
  are recorded as placeholders with a deterministic digest, sha256 of the source object's hashes and the image name
  (``artifactregistry.image_is_executable`` is False for them).
- The log object ``log-{id}.txt`` in the logs bucket grows while the build runs (Cloud Build's format: ``starting
  build``, ``FETCHSOURCE``, ``BUILD``, ``Step #N: ...``, ``PUSH``, ``DONE`` or ``ERROR``).
- The operation completes with the Build as ``response`` on SUCCESS; otherwise with an ``error`` (the client's
  ``operation.result()`` raises "Build failed; check build logs for details"), the final Build staying in the
  operation's metadata and at GET.
"""
