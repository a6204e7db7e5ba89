"""User-facing errors: the CLI prints their message and exits non-zero, without a traceback."""


class UserInputError(ValueError):
    """Bad input from the user (config, data, arguments); the message says what and where."""
