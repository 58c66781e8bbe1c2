import json
import mmap
from pathlib import Path

import numpy as np
import pytest

from recommender.errors import IncompatibleIndex, UnknownArticle
from recommender.indexing.corpus import Article, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import MANIFEST, load_index, save_index
from recommender.indexing.vectorize import transform
from tests.conftest import BUNDLED_CORPUS


def is_memory_mapped(array: np.ndarray) -> bool:
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


def test_saved_index_loads_memory_mapped_with_the_same_lists(small_corpus: Path, tmp_path: Path) -> None:
    built = build_index(load_corpus(small_corpus))
    loaded = load_index(save_index(built, tmp_path / "index"))
    for array in (loaded.neighbour_ids, loaded.neighbour_scores, loaded.matrix.data, loaded.matrix.indices):
        assert is_memory_mapped(array)
    assert loaded.version == built.version
    for article in built.articles:
        assert loaded.related(article["id"], 10) == built.related(article["id"], 10)


def test_text_that_python_takes_for_line_ends_survives_save_and_load(tmp_path: Path) -> None:
    """Records are JSON Lines written with ensure_ascii=False: a title holding U+2028 (copied from a
    web page) or U+0085 is one line to JSON, but str.splitlines() used to cut it, and the index did not load."""
    rows = [json.loads(line) for line in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()[:60]]
    rows[3]["title"] = "Minister resigns\u2028after the vote"
    rows[4]["title"] = "Next\u0085line, and a paragraph\u2029separator"
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    loaded = load_index(save_index(build_index(load_corpus(corpus)), tmp_path / "index"))
    assert len(loaded) == 60
    assert loaded.article(rows[3]["id"])["title"] == rows[3]["title"]
    assert loaded.article(rows[4]["id"])["title"] == rows[4]["title"]


def test_records_load_whole_and_in_order(tmp_path: Path) -> None:
    built = build_index(load_corpus(BUNDLED_CORPUS))
    loaded = load_index(save_index(built, tmp_path / "index"))
    assert list(loaded.articles) == list(built.articles)
    assert [loaded.id_of(row) for row in range(len(loaded))] == [article["id"] for article in built.articles]


def test_manifest_describes_the_build(small_index: Path, small_corpus: Path) -> None:
    manifest = json.loads((small_index / MANIFEST).read_text())
    assert manifest["article_count"] == 14
    assert manifest["corpus"]["sha256"] == load_corpus(small_corpus).checksum
    assert manifest["vocabulary_size"] > 0
    assert manifest["parameters"]["search"]["k"] >= 30
    assert {"format_version", "built_at", "libraries", "files"} <= manifest.keys()


def test_unknown_article_is_a_typed_error(small_index: Path) -> None:
    with pytest.raises(UnknownArticle):
        load_index(small_index).related("no-such-article", 5)


def test_saving_over_an_index_replaces_it_whole(small_corpus: Path, tmp_path: Path) -> None:
    target = tmp_path / "index"
    save_index(build_index(load_corpus(small_corpus)), target)
    (target / "stray-file").write_text("from the old index")
    save_index(build_index(load_corpus(small_corpus)), target)
    assert not (target / "stray-file").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_a_failed_save_leaves_the_previous_index_and_no_debris(small_corpus: Path, tmp_path: Path) -> None:
    target = save_index(build_index(load_corpus(small_corpus)), tmp_path / "index")
    before = load_index(target).version
    broken = build_index(load_corpus(small_corpus))
    broken.quality["unwritable"] = object()  # written after the arrays and records: the save fails half-way
    with pytest.raises(TypeError):
        save_index(broken, target)
    assert load_index(target).version == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_missing_index_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleIndex, match="recommender build"):
        load_index(tmp_path / "nothing-here")


def _copy(index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in index.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def test_other_format_version_is_refused(small_index: Path, tmp_path: Path) -> None:
    copy = _copy(small_index, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "format_version": 999}))
    with pytest.raises(IncompatibleIndex, match="format 999"):
        load_index(copy)


def test_other_scikit_learn_version_is_refused(small_index: Path, tmp_path: Path) -> None:
    copy = _copy(small_index, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["libraries"]["scikit-learn"] = "0.1"
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndex, match="scikit-learn 0.1"):
        load_index(copy)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_truncated_or_corrupt_files_are_refused(small_index: Path, tmp_path: Path, damage: str) -> None:
    copy = _copy(small_index, tmp_path)
    arrays = copy / "neighbour_ids.npy"
    data = bytearray(arrays.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2 :]
    else:
        data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(IncompatibleIndex, match="neighbour_ids.npy"):
        load_index(copy)


def test_no_pickles_and_the_restored_vectoriser_transforms_as_the_original(small_corpus: Path, tmp_path: Path) -> None:
    built = build_index(load_corpus(small_corpus))
    directory = save_index(built, tmp_path / "index")
    assert {path.suffix for path in directory.iterdir()} == {".npy", ".json", ".jsonl"}
    loaded = load_index(directory)
    new = [Article("n", "Astronauts dock with the space station", "The capsule docked; astronauts boarded.")]
    original, restored = transform(built.vectorizer, new), transform(loaded.vectorizer, new)
    assert original.nnz > 0 and np.array_equal(original.indices, restored.indices)
    assert np.allclose(original.data, restored.data, atol=1e-7)
    assert loaded.words == built.words


def test_files_the_manifest_does_not_list_are_refused(small_index: Path, tmp_path: Path) -> None:
    copy = _copy(small_index, tmp_path)
    (copy / "extra.npy").write_bytes(b"not from the build")
    with pytest.raises(IncompatibleIndex, match="files not in the manifest: extra.npy"):
        load_index(copy)


def test_a_manifest_without_its_file_list_is_refused(small_index: Path, tmp_path: Path) -> None:
    copy = _copy(small_index, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    del manifest["files"]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndex, match="does not list every file"):
        load_index(copy)


def test_a_missing_file_is_refused(small_index: Path, tmp_path: Path) -> None:
    copy = _copy(small_index, tmp_path)
    (copy / "idf_title.npy").unlink()
    with pytest.raises(IncompatibleIndex, match="idf_title.npy: missing"):
        load_index(copy)
