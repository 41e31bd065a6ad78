"""Skipping unreadable samples: the next readable one, wrapping around; each file logged once; all bad is an
error.
"""

from __future__ import annotations

import pytest
import torch

from dvcore.data.robust import CorruptFileError, SkippingDataset, read_image


class Files(SkippingDataset):
    """Sample i reads file i; the files in ``bad`` are unreadable. Records every read attempt."""

    def __init__(self, n: int, bad: set[int]):
        super().__init__("files", seed=0)
        self.n, self.bad, self.reads = n, bad, []

    def __len__(self) -> int:
        return self.n

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        path = f"file{index}"
        self.check_readable(path)
        self.reads.append(index)
        if index in self.bad:
            raise CorruptFileError(path, "truncated")
        return {"x": torch.tensor([index, requested])}


def test_an_unreadable_sample_gives_the_next_readable_one_wrapping_around():
    files = Files(5, bad={1, 2, 4})
    assert [files[i]["x"].tolist() for i in range(5)] == [[0, 0], [3, 1], [3, 2], [3, 3], [0, 4]]
    assert files[-1]["x"].tolist() == [0, 4]
    assert files.num_corrupt == 3 and files.corrupt_files == ["file1", "file2", "file4"]


def test_a_known_bad_file_is_not_read_or_logged_again(capsys):
    files = Files(3, bad={1})
    for _ in range(3):
        files[1]
    assert files.reads.count(1) == 1
    assert capsys.readouterr().err.count("skipping unreadable file file1: truncated") == 1


def test_all_unreadable_is_an_error_and_out_of_range_is_an_index_error():
    with pytest.raises(RuntimeError, match="every one of the 2 samples is unreadable"):
        Files(2, bad={0, 1})[0]
    with pytest.raises(IndexError):
        Files(2, bad=set())[2]


def test_read_image_names_the_reason(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(CorruptFileError, match="cannot identify image file"):
        read_image(tmp_path / "junk.png")
    with pytest.raises(CorruptFileError, match="No such file or directory"):
        read_image(tmp_path / "missing.png")
