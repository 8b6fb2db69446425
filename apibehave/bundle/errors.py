"""The one exception raised for a bad, tampered or incompatible bundle."""

from apibehave.common.errors import UserError


class BundleError(UserError):
    """A bundle that cannot be trusted or read: one line naming what failed.

    It is a :class:`~apibehave.common.errors.UserError`, so the command line prints it
    as one line on stderr and exits with code 2.
    """
