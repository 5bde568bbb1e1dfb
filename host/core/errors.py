"""The one exception type a user can cause; the CLI prints its message as a single line."""


class WzError(Exception):
    """A problem with the user's input (file, model, port, option) that says what to do."""
