"""ssot-codemod: rewrite hand-rolled async setUp bridges so they survive a running event loop."""

__version__ = "0.1.0"
