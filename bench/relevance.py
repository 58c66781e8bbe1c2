"""Relevance benchmark: what the floor does to "More like this" on the labeled shared corpora.

For each corpus with sections (BBC, Reuters-21578, MIND), in one run:

- ``unstemmed, no floor``: the analysis and lists before issue 8 (no stemming, no news stop
  words, every top-5 neighbour shown as similar), the baseline;
- ``stemmed, no floor``: today's analysis with the floor off (``min_score=0``);
- ``auto floor, any words``: the default floor without the shared-words test;
- ``auto floor, N+ shared words``: the floor with the test at other values;
- ``default``: today's analysis, the default floor and the fill, as the API serves it.

Per setting: the share of "similar" items from another section (items whose article has a
section, and whose neighbour has one, are judged), precision@5 of the whole box (fallbacks
included; a missing item is a miss), the share of box items that are similar, and the share of
articles with no similar item. Ratios are against the baseline of the same run.

Rerun: ``.venv/bin/python -m bench.relevance`` (``make bench``); needs ../shared/corpora and
says so when it is absent. Results go to ``bench/results/relevance.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.relevance import RelevanceSettings
from recommender.indexing.vectorize import VectorizerSettings
from recommender.serving import boxes
from recommender.serving.live import LiveIndex

RESULTS = Path(__file__).resolve().parent / "results"
LABELED = ("bbc", "reuters21578", "mind-sample")
BOX = 5
SETTINGS = {
    "unstemmed, no floor": (VectorizerSettings(stemming=False, news_stop_words=False), 0.0, RelevanceSettings()),
    "stemmed, no floor": (VectorizerSettings(), 0.0, RelevanceSettings()),
    "auto floor, any words": (VectorizerSettings(), None, RelevanceSettings(min_shared_words=0.0)),
    "auto floor, 2+ shared words": (VectorizerSettings(), None, RelevanceSettings(min_shared_words=2.0)),
    "auto floor, 3+ shared words": (VectorizerSettings(), None, RelevanceSettings(min_shared_words=3.0)),
    "default": (VectorizerSettings(), None, RelevanceSettings()),
}


def measure(name: str) -> list[dict[str, object]]:
    corpus = load_corpus(SHARED_CORPORA / name / "articles.jsonl", max_bad_fraction=1.0)
    rows = []
    for setting, (vectorizer, min_score, relevance) in SETTINGS.items():
        live = LiveIndex(build_index(corpus, vectorizer, relevance_settings=relevance))
        floor = live.floor if min_score is None else min_score
        other = judged = hits = similar = shown = without = pages = 0
        for article in corpus.articles:
            if not article.section:
                continue
            pages += 1
            box = boxes.more_like_this(live, article.id, BOX, floor, [], fill=True)
            similar_items = [item for item in box if item.reason == boxes.SIMILAR]
            without += not similar_items
            similar += len(similar_items)
            shown += len(box)
            hits += sum(item.article.get("section") == article.section for item in box)
            for item in similar_items:
                if item.article.get("section"):
                    judged += 1
                    other += item.article["section"] != article.section
        rows.append(
            {
                "corpus": name,
                "setting": setting,
                "floor": round(floor, 4),
                "other_section_share": round(other / judged, 4) if judged else None,
                "precision_at_5": round(hits / (pages * BOX), 4),
                "similar_share": round(similar / shown, 4) if shown else 0.0,
                "articles_without_similar": round(without / pages, 4),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    baseline = rows[0]
    for row in rows:
        share, base = row["other_section_share"], baseline["other_section_share"]
        if isinstance(share, float) and isinstance(base, float) and base:
            row["other_section_ratio"] = round(share / base, 3)
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| corpus | setting | floor | other-section share of similar | ratio | precision@5 of the box | "
        "similar share of the box | articles without similar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['corpus']} | {row['setting']} | {row['floor']:.3f} | {row['other_section_share']:.3f} | "
            f"{row.get('other_section_ratio', 1.0):.2f} | {row['precision_at_5']:.3f} | {row['similar_share']:.3f} | "
            f"{row['articles_without_similar']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    if not SHARED_CORPORA.is_dir():
        print(f"{SHARED_CORPORA} is absent: the relevance benchmark needs the shared corpora; nothing measured")
        return
    rows = [row for name in LABELED for row in measure(name)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "relevance.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
