"""The mapping layer's own exception: a bug, never bad input."""
from __future__ import annotations


class MappingError(RuntimeError):
    """Mapping a request's resources failed unexpectedly.

    The mapping is tolerant of whatever a client sends (odd shapes are read as
    unknown, with a warning), so an exception inside it is a defect in the mapping,
    not in the data. It is never turned into "not recorded" facts: ``build_facts``
    raises this, naming the resource (type/id, never patient data) and the stage,
    with the original exception as ``__cause__``. The service answers such a request
    with a logged, counted error response, never with cards built on partial facts.
    """

    def __init__(self, stage: str, where: str | None, cause: BaseException) -> None:
        self.stage = stage
        self.where = where
        super().__init__(f"mapping failed in {stage}" + (f" ({where})" if where else "")
                         + f": {cause.__class__.__name__}")
