"""runs/beyond_table1_paper.py: the row metrics, the --quick run, resuming, refusing to overwrite, bad arguments.

- on a Gaussian law the encoder is the OT map (Theorem 3.1), a gradient map: the metric must
  give a symmetric, positive definite Jacobian that agrees with finite differences, and
  the distance r to a gradient field must vanish; on a random Gaussian mixture (not a
  gradient map: the beyond-Table-1 chapter) the same metric must see the asymmetry;
- the quick run, interrupted after a few rows, resumes without recomputing them, and
  writes every column, finite, with status ok;
- an existing result is not replaced without --force; bad arguments are errors naming them.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from ddpm_ot_lib import counterexamples as cx
from ddpm_ot_lib import densities, table1

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("beyond_table1_paper", ROOT / "runs" / "beyond_table1_paper.py")
bt = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bt  # dataclasses look their module up there
_spec.loader.exec_module(bt)


def test_gaussian_law_metric_is_symmetric_and_matches_finite_differences():
    bed = cx.gaussian_bed()
    law = bt.law_of_mixture_bed(bed)
    x = bed.sample(40, 3)
    m = bt.row_metrics(
        law, x, rtol=1e-10, t_max=5.0, fd_points=3, grid_side=15, r_nodes=40, r_degree=8, r_degree_coarse=6
    )
    assert m["n_stopped"] == 0 and m["fd_points"] == 3
    assert m["asym_max"] < 1e-6 and m["asym_max_grid"] < 1e-6
    assert m["jac_fd_error"] < 1e-6
    # DE = Sigma^{-1/2} up to the e^{-T} tail: its eigenvalues, positive
    lam = np.linalg.eigvalsh(np.linalg.inv(bed.info["covs"][0]))
    assert m["sym_min_eig"] == pytest.approx(np.sqrt(lam.min()), rel=2e-2) and m["sym_min_eig_grid"] > 0
    assert m["r"] < 1e-6 and abs(m["eps_rel"]) < 1e-9


def test_mixture_law_metric_sees_the_asymmetry():
    bed = cx.mixture_bed(2, 0)
    x = bed.sample(30, 1)
    m = bt.row_metrics(bt.law_of_mixture_bed(bed), x, rtol=1e-10, t_max=10.0, fd_points=2)
    assert m["asym_median"] > 1e-3  # the chapter's mixture: about 1e-2
    assert m["jac_fd_error"] < 1e-5  # and the Jacobian is still the encoder's


def test_samples_are_table1s_stream():
    dens = densities.random_density(2, 101, grid=densities.paper_grid(2))
    from ddpm_ot_lib import sampling

    ref = sampling.tt_sample(dens.tt, dens.grid, 1000, seed=table1.random_stream(2, 101, 1))
    assert np.array_equal(bt.table1_samples(dens, 7), ref[:7])


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bt1p")
    seen = []

    def stop_after_three(line):
        seen.append(line)
        if len(seen) == 3:
            raise KeyboardInterrupt("interrupted")

    with pytest.raises(KeyboardInterrupt):
        bt.run(out, quick=True, progress=stop_after_three)
    assert (out / "beyond_table1_paper.csv.partial").exists() and not (out / "beyond_table1_paper.csv").exists()
    resumed = []
    rows = bt.run(out, quick=True, progress=resumed.append)
    return out, rows, resumed


def test_quick_run_resumes_and_writes_finite_columns(quick):
    out, rows, resumed = quick
    n = len(bt.tasks(bt._common(bt.QUICK)))
    assert len(rows) == n and len(resumed) == n - 3  # the 3 rows before the interruption were kept
    assert not (out / "beyond_table1_paper.csv.partial").exists()
    with open(out / "beyond_table1_paper.csv", newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert list(recs[0]) == bt.COLUMNS and len(recs) == n
    assert {r["study"] for r in recs} == set(bt.STUDIES)
    for r in recs:
        assert r["status"] == "ok", r
        for col in ("asym_median", "asym_max", "sym_min_eig", "eps_rel", "seconds"):
            assert math.isfinite(float(r[col])), (col, r)
        computed = {
            "jac_fd_error": r["study"] in ("main", "dimension"),
            "sym_min_eig_grid": r["study"] == "main",
            "r": r["study"] == "main",
        }
        for col, expected in computed.items():
            assert (r[col] != "") == expected, (col, r)
            assert r[col] == "" or math.isfinite(float(r[col]))
        if r["jac_fd_error"]:
            assert float(r["jac_fd_error"]) < 1e-4, r
    meta = json.loads((out / "beyond_table1_paper.json").read_text())
    assert meta["config"]["quick"] is True and meta["versions"]["teneva"] and meta["wall_time_s"] > 0
    assert set(meta["summary"]) >= {"main/paper/d=2", "dimension/smooth/d=3"}


def test_refuses_to_replace_without_force(quick, capsys):
    out, _, _ = quick
    before = (out / "beyond_table1_paper.csv").read_bytes()
    assert bt.main(["--quick", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "beyond_table1_paper.csv").read_bytes() == before


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bt.main(["--studies", "bogus", "--out", str(tmp_path)])
    assert "--studies" in capsys.readouterr().err
    target = tmp_path / "a_file"
    target.write_text("x")
    assert bt.main(["--quick", "--out", str(target)]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(ValueError, match="bed"):
        bt.law_of_mixture_bed(dataclasses.replace(cx.gaussian_bed(), kind="tensor train"))
