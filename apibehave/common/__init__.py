"""Small shared infrastructure: user-facing errors and safe output writing."""

from apibehave.common.errors import UserError
from apibehave.common.output import atomic_output, check_output_path

__all__ = ["UserError", "atomic_output", "check_output_path"]
