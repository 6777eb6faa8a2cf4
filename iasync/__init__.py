"""iasync: keep LUSID Investment Accounts as YAML files in git and converge LUSID to them."""

__version__ = "0.1.0"
