"""The emulator's own suite: the fixtures in ``deployer_emulator.fixtures`` start it the one way it is started."""

pytest_plugins = ["deployer_emulator.fixtures"]
