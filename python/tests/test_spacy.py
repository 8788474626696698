"""The spaCy component gives the module's entities through doc.ents."""
import pytest

import spacy
from spacy.tokens import Doc, Span

from bilstm_crf_ner import Tagger
from bilstm_crf_ner.spacy_component import BilstmCrfNer

from conftest import EN
from test_tagger import TEXTS


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config={"model": str(EN)})
    return nlp


def spans(doc):
    return [(e.start_char, e.end_char, e.text, e.label_) for e in doc.ents]


def test_doc_ents_are_the_modules_entities(nlp, en_tagger):
    for text in TEXTS:
        doc = nlp(text)
        ours = [(e.start, e.end, e.text, e.label) for e in en_tagger.tag(text)]
        assert spans(doc) == ours, text
        for e, o in zip(doc.ents, en_tagger.tag(text)):
            assert e._.bilstm_crf_score == o.score


def test_pipe_batches_give_what_one_by_one_gives(nlp):
    texts = [t for t in TEXTS if t.strip()] * 3
    assert [spans(d) for d in nlp.pipe(texts, batch_size=4)] == [spans(nlp(t)) for t in texts]


def misaligned(vocab):
    """"Angela Merkel visited Paris." with spaCy's last token "Paris." kept whole: our entity
    "Paris" ends inside it."""
    return Doc(vocab, words=["Angela", "Merkel", "visited", "Paris."], spaces=[True, True, True, False])


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("expand", [("Angela Merkel", "PER"), ("Paris.", "LOC")]),
        ("contract", [("Angela Merkel", "PER")]),
        ("strict", [("Angela Merkel", "PER")]),
    ],
)
def test_an_entity_inside_a_spacy_token_is_aligned_by_the_mode(mode, expected):
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config={"model": str(EN), "alignment_mode": mode})
    doc = nlp.get_pipe("bilstm_crf_ner")(misaligned(nlp.vocab))
    assert [(e.text, e.label_) for e in doc.ents] == expected


def test_existing_entities_are_kept_unless_overwrite():
    nlp = spacy.blank("en")
    doc = nlp("Angela Merkel visited Paris.")
    doc.ents = [Span(doc, 0, 1, label="CUSTOM")]  # "Angela"
    keep = BilstmCrfNer(Tagger.load(EN), overwrite=False)
    kept = keep(doc)
    # Ours overlapping the existing entity (Angela Merkel) is left out; Paris is added.
    assert [(e.text, e.label_) for e in kept.ents] == [("Angela", "CUSTOM"), ("Paris", "LOC")]
    doc2 = nlp("Angela Merkel visited Paris.")
    doc2.ents = [Span(doc2, 0, 1, label="CUSTOM")]
    over = BilstmCrfNer(Tagger.load(EN), overwrite=True)(doc2)
    assert [(e.text, e.label_) for e in over.ents] == [("Angela Merkel", "PER"), ("Paris", "LOC")]


def test_a_component_without_a_model_says_how_to_give_one():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="needs a model"):
        nlp.add_pipe("bilstm_crf_ner")
