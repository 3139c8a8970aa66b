"""``python -m deployer``: the same as the ``deployer`` command."""

from deployer.cli.app import main

main()
