"""The two exceptions the contract raises: undecodable bytes and unencodable events."""


class DecodeError(ValueError):
    """Bytes that are not a dbsync2 event: corrupt, wrong marker, unknown schema fingerprint.

    This is the only exception `EventCodec.decode` raises. Consumers treat it as an invalid
    event (dead-letter it with its coordinates); it never indicates an outage.
    """


class EncodeError(ValueError):
    """An event whose content cannot be written with its Avro schema."""
