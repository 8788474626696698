"""Named-entity recognition with the ner project's BiLSTM-CRF models, in-process.

    >>> from bilstm_crf_ner import Tagger
    >>> tagger = Tagger.load("models/en-conll03")
    >>> [(e.text, e.label) for e in tagger.tag("Angela Merkel visited Paris.")]
    [('Angela Merkel', 'PER'), ('Paris', 'LOC')]

Offsets are Python string indices: ``text[e.start:e.end] == e.text``. The entities are those
``ner serve`` returns for the same text and model. Tagging releases the GIL, and one Tagger may
be shared by many threads. With spaCy installed, ``nlp.add_pipe("bilstm_crf_ner",
config={"model": PATH})`` adds the tagger to a pipeline (see ``bilstm_crf_ner.spacy_component``).
"""
from ._native import (
    MAX_NBEST,
    Analysis,
    Entity,
    Labeling,
    ModelError,
    SentenceNbest,
    Tagger,
    Token,
    __version__,
)

__all__ = [
    "MAX_NBEST",
    "Analysis",
    "Entity",
    "Labeling",
    "ModelError",
    "SentenceNbest",
    "Tagger",
    "Token",
    "__version__",
]
