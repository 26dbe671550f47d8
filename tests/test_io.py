"""File handling shared by the runners and scripts (ddpm_ot_lib._io)."""

import json
import os
import stat

import numpy as np
import pytest

from ddpm_ot_lib import _io


def test_atomic_write_text_and_bytes(tmp_path):
    path = tmp_path / "sub" / "r.csv"
    assert _io.atomic_write(path, "a,b\n1,2\n") == path
    assert path.read_text() == "a,b\n1,2\n"
    _io.atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.csv"]


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("old\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match=r"^disk full$"):
        _io.atomic_write(path, "new\n")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_atomic_open_removes_the_temporary_file_on_error(tmp_path):
    path = tmp_path / "r.json"
    with pytest.raises(RuntimeError, match=r"^half-way$"):
        with _io.atomic_open(path) as fh:
            fh.write("{")
            raise RuntimeError("half-way")
    assert not list(tmp_path.iterdir())


def test_atomic_write_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"^data must be str or bytes, got dict"):
        _io.atomic_write(tmp_path / "x", {})
    with pytest.raises(ValueError, match=r"^mode must be 'w' or 'wb', got 'a'"):
        with _io.atomic_open(tmp_path / "x", "a"):
            pass


def test_check_writable(tmp_path):
    assert _io.check_writable(tmp_path / "new" / "x.csv") == tmp_path / "new" / "x.csv"
    assert (tmp_path / "new").is_dir() and not list((tmp_path / "new").iterdir())
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"^out is not writable: "):
        _io.check_writable(tmp_path / "file" / "x.csv")
    with pytest.raises(ValueError, match=r"^out must be a file path, got the folder "):
        _io.check_writable(tmp_path)


def test_partial_file_round_trip_and_torn_line(tmp_path):
    path = _io.partial_path(tmp_path / "t.csv")
    assert path.name == "t.csv.partial"
    assert _io.read_partial(path) == (None, [], [])
    _io.append_record(path, {"config": {"a": 1}})
    _io.append_record(path, {"row": {"d": 2, "x": np.float64(0.5), "n": np.int64(3)}})
    _io.append_record(path, {"session": {"rows": 1}})
    with open(path, "a") as fh:
        fh.write('{"row": {"d": 2, "se')  # a crash mid-write
    config, rows, sessions = _io.read_partial(path)
    assert config == {"a": 1} and rows == [{"d": 2, "x": 0.5, "n": 3}] and sessions == [{"rows": 1}]


def test_json_default():
    assert json.dumps({"a": np.arange(2), "b": np.bool_(True)}, default=_io.json_default) == '{"a": [0, 1], "b": true}'
    with pytest.raises(TypeError, match=r"^not JSON serialisable: object"):
        json.dumps(object(), default=_io.json_default)
