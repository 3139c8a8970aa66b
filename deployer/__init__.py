"""deployer: a Dockerfile to a running workload on Google Cloud."""

__version__ = "0.1.0"
