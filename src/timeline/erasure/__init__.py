"""Lawful erasure by crypto-shredding that keeps the proof (docs/erasure.md): the erasure
register (:mod:`~timeline.erasure.register`), erasing a seeker
(:mod:`~timeline.erasure.service`) and the retention job's selection
(:mod:`~timeline.erasure.retention`)."""

from timeline.erasure.register import Erasure, ErasureLookup, ErasureRegister
from timeline.erasure.service import Eraser, Outcome

__all__ = ["Eraser", "Erasure", "ErasureLookup", "ErasureRegister", "Outcome"]
