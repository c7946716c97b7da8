"""Write your own consumer group: implement ConsumerGroup, the runtime does the rest.

See docs/custom-groups.md. The public API is re-exported here so a group imports one module.
"""

from consumers.runtime.group import (
    ConsumerGroup,
    GroupContext,
    GroupSpec,
    RetryPolicy,
    TypedEnvelope,
)
from consumers.runtime.outcomes import Backpressure, InvalidEvent, RetryableError

__all__ = [
    "Backpressure",
    "ConsumerGroup",
    "GroupContext",
    "GroupSpec",
    "InvalidEvent",
    "RetryPolicy",
    "RetryableError",
    "TypedEnvelope",
]
