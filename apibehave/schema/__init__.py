"""The outside contract in code: event columns, the attack vocabulary, event files."""

from apibehave.schema.attacks import (
    ATTACK_TYPES,
    ATTACKS,
    LABELS,
    NORMAL_LABEL,
    AttackType,
    is_attack_type,
)
from apibehave.schema.event_io import read_events, tabular_format_of, write_events
from apibehave.schema.events import (
    EVENT_COLUMN_NAMES,
    EVENT_COLUMNS,
    IDENTIFIER_COLUMNS,
    LABEL_COLUMNS,
    REQUIRED_COLUMNS,
    STRING_DTYPE,
    TIMESTAMP_DTYPE,
    Column,
    EventSchemaError,
    empty_events,
    event_json_schema,
    normalize_events,
    validate_events,
)

__all__ = [
    "ATTACKS",
    "ATTACK_TYPES",
    "EVENT_COLUMNS",
    "EVENT_COLUMN_NAMES",
    "IDENTIFIER_COLUMNS",
    "LABELS",
    "LABEL_COLUMNS",
    "NORMAL_LABEL",
    "REQUIRED_COLUMNS",
    "STRING_DTYPE",
    "TIMESTAMP_DTYPE",
    "AttackType",
    "Column",
    "EventSchemaError",
    "empty_events",
    "event_json_schema",
    "is_attack_type",
    "normalize_events",
    "read_events",
    "tabular_format_of",
    "validate_events",
    "write_events",
]
