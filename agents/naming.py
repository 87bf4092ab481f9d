"""Name evidence, as the roles import it: see :mod:`agents.matching.names`.

The word knowledge lives in real lexical resources and data files with their provenance
(``agents/matching/vocabulary/``), not in this module.
"""

from agents.matching.lexicon import base_form as singular
from agents.matching.names import (
    name_similarity,
    split_words,
    stem_matches,
    strip_table_words,
)
from agents.matching.names import words as canonical_words

__all__ = [
    "canonical_words",
    "name_similarity",
    "singular",
    "split_words",
    "stem_matches",
    "strip_table_words",
]
