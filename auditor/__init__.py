"""auditor: audit GitHub repositories against a deployment process written down as a policy."""

__version__ = "0.1.0"
