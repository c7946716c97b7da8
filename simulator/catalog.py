"""Define the campaign's static layout: custom fields (E1) and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.hostile import HOSTILE_FIELDS

CUSTOM_FIELDS: tuple[tuple[str, str], ...] = (
    ("firstname", "text"),
    ("lastname", "text"),
    ("birthday", "date"),
    ("appointment", "calendar"),
    ("mobile", "phone"),
    ("gender", "radiogroup"),
    ("product", "dropdown"),
    ("city", "autocomplete"),
    ("newsletter", "checkbox"),
    ("revenue", "number"),
    ("customer_number", "number"),
    ("notes", "textarea"),
)
DELETED_FIELD = "old_score"


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """One campaign task as it appears in task-log entries."""

    task_id: str
    name: str
    title: str
    task_type: str


TASKS: tuple[TaskDefinition, ...] = (
    TaskDefinition("T01FC", "fc_first_contact", "First contact", "OutboundTask"),
    TaskDefinition("T02FC", "fc_retry", "First contact retry", "OutboundTask"),
    TaskDefinition("T03QC", "qc_quality_check", "Quality check", "ManualTask"),
    TaskDefinition("T04SA", "sales_closing", "Sales closing", "OutboundTask"),
    TaskDefinition("T05SA", "sales_followup", "Sales follow-up", "OutboundTask"),
    TaskDefinition("T06BO", "backoffice", "Back office", "ManualTask"),
)
INBOUND_TASK = TaskDefinition("T07IN", "inbound_hotline", "Hotline", "InboundTask")


def build_fields(hostile: bool) -> list[dict[str, Any]]:
    """Return the E1 field list: every field type, one deleted field and one non-field element."""
    fields: list[dict[str, Any]] = [
        {"type": "label", "fieldType": "", "name": "personal_data", "state": "", "deleted": False}
    ]
    specs = CUSTOM_FIELDS + (HOSTILE_FIELDS if hostile else ())
    for name, field_type in specs:
        fields.append(
            {"type": "field", "fieldType": field_type, "name": name, "state": "", "deleted": False}
        )
    fields.append(
        {
            "type": "field",
            "fieldType": "number",
            "name": DELETED_FIELD,
            "state": "hidden",
            "deleted": True,
        }
    )
    return fields
