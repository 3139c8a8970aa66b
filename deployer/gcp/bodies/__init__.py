"""Pure builders of the request bodies deployer sends, one module per Google API, as the REST JSON on the wire.

Pure functions of their inputs, tested as values; ``--dry-run`` prints exactly these. The adapters next to this
package parse them into the client libraries' types strictly, so a misspelt field fails in tests, not at Google.
Nothing here imports google.cloud or sends a request.
"""
