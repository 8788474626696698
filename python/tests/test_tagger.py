"""The module's answers equal the server's, for the same texts and model."""
import pytest

from bilstm_crf_ner import MAX_NBEST, Entity, Tagger

from conftest import close

# The README's examples, and texts with accents, other scripts, emoji and odd spacing: Python
# string offsets must match the server's character offsets exactly.
TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris, Reuters reported.",
    "Angela Merkel visited Paris.",
    "Bob went to Berlin.",
    "Nothing here.",
    "Bob Smith spoke.",
    "The European Commission said on Thursday it disagreed with German advice to consumers.",
    "José Mourinho signed for Real Madrid in São Paulo 🙂 yesterday.",
    "🇩🇪 Olaf Scholz 🤝 Emmanuel Macron in Straßburg — talks went well 👍🏽.",
    "Zoë   Saldaña\tflew\nfrom Zürich to Kraków via Ålesund.",
    "Президент Владимир Путин and Xi Jinping met in Beijing.",
    "",
    "   ",
    "IBM and Microsoft. Apple? Google! Amazon; Meta: Netflix.",
]
ZH_TEXTS = ["张三，男，1970年出生，中国国籍，北京大学硕士，现任阿里巴巴集团副总裁。", "李四毕业于清华大学。"]


def dicts(entities):
    return [e.to_dict() for e in entities]


@pytest.mark.parametrize("text", TEXTS)
def test_one_text_gets_the_servers_entities(en_tagger, server, text):
    ours = en_tagger.tag(text)
    assert dicts(ours) == server.ner({"text": text})["entities"]
    for e in ours:
        assert text[e.start : e.end] == e.text


def test_a_batch_gets_the_servers_results_in_order(en_tagger, server):
    ours = en_tagger.tag_batch(TEXTS)
    theirs = server.ner({"texts": TEXTS})["results"]
    assert [dicts(x) for x in ours] == [r["entities"] for r in theirs]
    # Batched equals one by one (to rounding).
    assert all(close(b, en_tagger.tag(t)) for b, t in zip(ours, TEXTS))


def test_tokens_and_nbest_are_the_servers(en_tagger, server):
    for text in TEXTS[:3] + TEXTS[6:8]:
        ours = en_tagger.analyze(text, tokens=True, nbest=3)
        theirs = server.ner({"text": text, "tokens": True, "nbest": 3})
        assert [(t.text, t.start, t.end, t.tag, t.score) for t in ours.tokens] == [
            (t["text"], t["start"], t["end"], t["tag"], t["score"]) for t in theirs["tokens"]
        ]
        assert [
            (s.sentence, s.start, s.end, [(l.tags, l.probability) for l in s.labelings]) for s in ours.nbest
        ] == [
            (s["sentence"], s["start"], s["end"], [(l["tags"], l["probability"]) for l in s["labelings"]])
            for s in theirs["nbest"]
        ]


def test_min_score_drops_what_the_server_drops(en_tagger, server):
    text = TEXTS[0]
    for m in (0.0, 0.99, 0.99999, 1.0):
        assert dicts(en_tagger.tag(text, min_score=m)) == server.ner({"text": text, "min_score": m})["entities"]


def test_the_chinese_model_gets_the_servers_entities(zh_tagger, server):
    for text in ZH_TEXTS:
        ours = zh_tagger.tag(text)
        assert ours, text
        assert dicts(ours) == server.ner({"text": text, "model": "zh"})["entities"]


def test_analyze_without_options_has_no_tokens_or_nbest(en_tagger):
    a = en_tagger.analyze("Bob went to Berlin.")
    assert a.tokens is None and a.nbest is None
    assert a.entities == en_tagger.tag("Bob went to Berlin.")


def test_options_out_of_range_are_value_errors_naming_the_option(en_tagger):
    with pytest.raises(ValueError, match="nbest: at most"):
        en_tagger.analyze("Bob.", nbest=MAX_NBEST + 1)
    with pytest.raises(ValueError, match="min_score: must be between 0 and 1"):
        en_tagger.tag("Bob.", min_score=1.5)
    with pytest.raises(TypeError):
        en_tagger.tag_batch("a string is not a list of texts")


def test_the_tagger_describes_itself(en_tagger):
    assert en_tagger.name == "en-conll03"
    assert en_tagger.labels == ["LOC", "MISC", "ORG", "PER"]
    e = en_tagger.tag("Bob went to Berlin.")[0]
    assert isinstance(e, Entity) and "Bob" in repr(e)
