"""Make large test corpora by recombining real paragraphs within one section.

Random words would give the wrong term statistics; recombining paragraphs of
real news keeps the vocabulary, document frequencies and lengths of real news
while letting benchmarks reach any size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

SHARED_CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
SOURCES = ("bbc", "reuters21578", "mind-sample", "wikinews")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?= {3,})")


def _paragraphs(body: str) -> list[str]:
    return [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(body) if p.strip()]


def load_sections(root: Path = SHARED_CORPORA) -> dict[str, list[tuple[str, list[str]]]]:
    """Group (title, paragraphs) of every shared article by '<corpus>/<section>'."""
    groups: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for source in SOURCES:
        path = root / source / "articles.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                paragraphs = _paragraphs(row["body"])
                if paragraphs:
                    groups[f"{source}/{row.get('section') or 'none'}"].append((row["title"], paragraphs))
    return groups


def synthesize(count: int, out: Path, seed: int = 0, root: Path = SHARED_CORPORA) -> Path:
    """Write `count` articles, each a real title plus 2-8 real paragraphs of its section."""
    groups = load_sections(root)
    if not groups:
        raise SystemExit(f"no shared corpora under {root}: cannot synthesize a corpus")
    rng = random.Random(seed)
    names = sorted(groups)
    weights = [len(groups[name]) for name in names]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        for number in range(count):
            name = rng.choices(names, weights)[0]
            members = groups[name]
            title = rng.choice(members)[0]
            paragraphs = [rng.choice(rng.choice(members)[1]) for _ in range(rng.randint(2, 8))]
            row = {
                "id": f"synth-{number}",
                "title": title,
                "body": "\n\n".join(paragraphs),
                "section": name,
                "url": f"https://example.org/synth/{number}",
            }
            sink.write(json.dumps(row) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    synthesize(args.count, args.out, args.seed)


if __name__ == "__main__":
    main()
