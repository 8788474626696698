"""Type stubs of the native extension (crates/ner-python)."""
from os import PathLike
from typing import List, Optional, Sequence, Union

__version__: str
MAX_NBEST: int
DEFAULT_MAX_SENTENCE_TOKENS: int

class ModelError(Exception):
    """A model could not be loaded or could not tag: the message says which file and why."""

class Entity:
    """An entity: ``text == the_text[start:end]``; ``score`` is the CRF's probability that
    exactly these words carry this label."""

    text: str
    label: str
    start: int
    end: int
    score: float
    def to_dict(self) -> dict: ...

class Token:
    """A word with its tag and the tag's probability."""

    text: str
    start: int
    end: int
    tag: str
    score: float

class Labeling:
    """One labeling of a sentence (a tag per token) and its probability."""

    tags: List[str]
    probability: float

class SentenceNbest:
    """The k best labelings of one sentence, with the sentence's offsets."""

    sentence: int
    start: int
    end: int
    labelings: List[Labeling]

class Analysis:
    """One text's entities, and its tokens and n-best labelings when asked for."""

    entities: List[Entity]
    tokens: Optional[List[Token]]
    nbest: Optional[List[SentenceNbest]]

class Tagger:
    """A loaded model; thread-safe, and the GIL is released while it tags."""

    @staticmethod
    def load(
        path: Union[str, PathLike], threads: Optional[int] = None, max_sentence_tokens: int = 128
    ) -> "Tagger":
        """Loads a model directory, or the installed model package of that name.

        Raises FileNotFoundError when there is neither, and ModelError when a file of the
        directory is missing or damaged (the message names it)."""
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> List[str]: ...
    def tag(self, text: str, *, min_score: Optional[float] = None) -> List[Entity]:
        """The entities of one text, with Python string offsets."""
    def tag_batch(self, texts: Sequence[str], *, min_score: Optional[float] = None) -> List[List[Entity]]:
        """The entities of each text, in order (one call to the network for the batch)."""
    def analyze(
        self, text: str, *, tokens: bool = False, nbest: int = 0, min_score: Optional[float] = None
    ) -> Analysis:
        """Entities and, on request, tokens and the ``nbest`` best labelings per sentence."""
    def analyze_batch(
        self, texts: Sequence[str], *, tokens: bool = False, nbest: int = 0, min_score: Optional[float] = None
    ) -> List[Analysis]: ...
