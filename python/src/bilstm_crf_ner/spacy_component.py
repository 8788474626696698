"""The spaCy pipeline component ``bilstm_crf_ner``.

    import spacy
    nlp = spacy.blank("en")  # or any pipeline
    nlp.add_pipe("bilstm_crf_ner", config={"model": "models/en-conll03"})
    doc = nlp("Angela Merkel visited Paris.")
    [(e.text, e.label_) for e in doc.ents]

The component tags ``doc.text`` with the model and sets ``doc.ents``. Our entities come with
character offsets; spaCy's entities are token spans. An entity whose ends fall on spaCy's token
boundaries becomes exactly that span. One whose start or end falls inside a spaCy token (the
two tokenisers split a word differently, as in "Paris." kept whole) is aligned by
``alignment_mode``: ``"expand"`` (the default) widens it to the tokens it touches,
``"contract"`` narrows it to the tokens it covers wholly (and drops it when none is), and
``"strict"`` drops it. Each entity's probability is kept in ``span._.bilstm_crf_score`` when
the extension is registered (it is, on first use).

With ``overwrite=False`` (the default) entities already on the doc are kept, and ours are added
where they overlap none of them; with ``overwrite=True`` ours replace them. ``nlp.pipe`` tags
the texts ``batch_size`` at a time in one call to the tagger.
"""
from typing import Iterable, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

from . import Entity, Tagger

SCORE = "bilstm_crf_score"
ALIGNMENT_MODES = ("expand", "contract", "strict")


@Language.factory(
    "bilstm_crf_ner",
    default_config={
        "model": None,
        "overwrite": False,
        "alignment_mode": "expand",
        "threads": None,
        "batch_size": 32,
        "min_score": None,
    },
)
def make_component(
    nlp: Language,
    name: str,
    model: Optional[str],
    overwrite: bool,
    alignment_mode: str,
    threads: Optional[int],
    batch_size: int,
    min_score: Optional[float],
) -> "BilstmCrfNer":
    if not model:
        raise ValueError('bilstm_crf_ner needs a model: nlp.add_pipe("bilstm_crf_ner", config={"model": PATH})')
    return BilstmCrfNer(Tagger.load(model, threads=threads), name, overwrite, alignment_mode, batch_size, min_score)


class BilstmCrfNer:
    """Sets ``doc.ents`` from a :class:`bilstm_crf_ner.Tagger`."""

    def __init__(
        self,
        tagger: Tagger,
        name: str = "bilstm_crf_ner",
        overwrite: bool = False,
        alignment_mode: str = "expand",
        batch_size: int = 32,
        min_score: Optional[float] = None,
    ) -> None:
        if alignment_mode not in ALIGNMENT_MODES:
            raise ValueError(f"alignment_mode must be one of {', '.join(ALIGNMENT_MODES)}, got {alignment_mode!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.tagger = tagger
        self.name = name
        self.overwrite = overwrite
        self.alignment_mode = alignment_mode
        self.batch_size = batch_size
        self.min_score = min_score
        if not Span.has_extension(SCORE):
            Span.set_extension(SCORE, default=None)

    @property
    def labels(self) -> List[str]:
        return list(self.tagger.labels)

    def __call__(self, doc: Doc) -> Doc:
        return self.set_entities(doc, self.tagger.tag(doc.text, min_score=self.min_score))

    def pipe(self, stream: Iterable[Doc], batch_size: Optional[int] = None) -> Iterator[Doc]:
        for batch in minibatch(stream, size=batch_size or self.batch_size):
            found = self.tagger.tag_batch([d.text for d in batch], min_score=self.min_score)
            for doc, entities in zip(batch, found):
                yield self.set_entities(doc, entities)

    def spans(self, doc: Doc, entities: Iterable[Entity]) -> List[Span]:
        """Our entities as spans of ``doc``'s tokens, aligned by ``alignment_mode``."""
        out = []
        for e in entities:
            span = doc.char_span(e.start, e.end, label=e.label, alignment_mode=self.alignment_mode)
            if span is not None and len(span) > 0:
                span._.set(SCORE, e.score)
                out.append(span)
        return filter_spans(out)

    def set_entities(self, doc: Doc, entities: Iterable[Entity]) -> Doc:
        ours = self.spans(doc, entities)
        if self.overwrite:
            doc.ents = ours
            return doc
        taken = set()
        for e in doc.ents:
            taken.update(range(e.start, e.end))
        kept = [s for s in ours if not taken.intersection(range(s.start, s.end))]
        doc.ents = list(doc.ents) + kept
        return doc
