"""wzcodec host side: data, reference codec, bounds, training, link and CLI."""

__version__ = "0.1.0"
