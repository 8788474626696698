"""One Tagger shared by 8 Python threads gives the results it gives to one."""
from concurrent.futures import ThreadPoolExecutor

from conftest import close
from test_tagger import TEXTS


def test_eight_threads_get_what_one_gets(en_tagger):
    texts = [t for t in TEXTS if t.strip()] * 6
    alone = [en_tagger.analyze(t, tokens=True) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: en_tagger.analyze(t, tokens=True), texts))
        batches = list(pool.map(en_tagger.tag_batch, [texts[i : i + 5] for i in range(0, len(texts), 5)]))
    key = lambda a: ([e.to_dict() for e in a.entities], [(t.text, t.tag, t.score) for t in a.tokens])
    assert [key(a) for a in together] == [key(a) for a in alone]
    # Batches of five equal one by one to rounding (the products accumulate in another order).
    flat = [e for b in batches for e in b]
    assert len(flat) == len(alone) and all(close(b, a.entities) for b, a in zip(flat, alone))
