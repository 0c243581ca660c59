"""The course's exercises: ``check_exercise(name, answer)`` checks an answer written in a notebook.

``core.py`` runs the checks and says what a hint is, ``compare.py`` judges answers, and ``nb00.py`` to
``nb07.py`` hold each notebook's exercises, every record next to its cases. Importing them fills ``EXERCISES``.
"""

from . import nb00, nb01, nb02, nb03, nb04, nb05, nb06, nb07  # noqa: F401  (each registers its exercises)
from .core import EXERCISES, ExerciseResult, check_exercise

__all__ = ["EXERCISES", "ExerciseResult", "check_exercise"]
