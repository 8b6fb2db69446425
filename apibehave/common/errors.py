"""The one exception type for a user's mistake.

Anything raised as :class:`UserError` reaches the command line as one line on stderr
and exit code 2, never a traceback. Everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input (a path, a format, a file's content, a setting).

    Parameters
    ----------
    message : str
        One line that says what is wrong and, where it helps, what to do instead.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
