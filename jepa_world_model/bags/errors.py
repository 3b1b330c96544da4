"""Errors of the bag package, importable without rosbags (the CLI catches them)."""


class BagDatasetError(ValueError):
    """Bags cannot become episodes: unreadable file, missing topic, unusable messages."""


class BagWriteError(RuntimeError):
    """A bag cannot be created or a message does not fit its topic."""


class RecordError(RuntimeError):
    """A robot or policy cannot be made, or the recording settings do not fit the robot."""
