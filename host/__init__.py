"""wzcodec: a deployable zero-delay Wyner-Ziv codec.

Subpackages, in layers (docs/architecture.md): core, data, training, link, codegen, evaluation, emulator, cli.
Importing `wzcodec` itself loads nothing else.
"""

__version__ = "0.1.0"
