"""Free-text codes to enum labels, as the roles import it: see :mod:`agents.matching.values`.

Several value models score every (value, label) pair and one global assignment chooses, so a
value's label is never simply the first plausible guess; a value no model explains, or one the
evidence splits between labels, becomes a question for a human.
"""

from agents.matching.values import Classification, acronym_dictionary, classify_values

__all__ = ["Classification", "acronym_dictionary", "classify_values"]
