"""The Table 1 pipeline (ddpm_ot_lib.table1): rows, the runner and its safety, backends, the CLI."""

import csv
import json
import math

import numpy as np
import pytest

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities
from ddpm_ot_lib import fokker_planck as fp
from ddpm_ot_lib import sampling
from ddpm_ot_lib import table1 as tb
from ddpm_ot_lib import transport

# small settings: every row below takes well under a second
TINY = {"samples": 40, "check_points": 20}
GRIDS = {2: 48, 3: 36}


# ----------------------------------------------------------------------------- the exact solution's fast path


@pytest.mark.parametrize("d, n", [(2, 60), (3, 40)])
def test_exact_score_path_equals_the_nodal_path(d, n):
    """fokker_planck evaluates exact solutions from Chebyshev coefficients; the nodal TT agrees."""
    g = ch.grid(-8, 8, n, d)
    dens = densities.random_density(d, 1, grid=g)
    sol = fp.solve_exact(dens.tt, g, [0.0])
    x = sampling.tt_sample(dens.tt, g, 200, seed=0)
    for t in (0.0, 0.05, 0.7, 5.0):
        Y = fp.tt_at(sol, t)[0][1]
        p = ch.tt_evaluate(Y, g, x)
        grad, val = ch.tt_gradient(Y, g, x, with_value=True)
        assert np.abs(fp.density(sol, x, t) - p).max() < 1e-12 * p.max()
        s = grad / val[:, None]
        assert np.abs(fp.score(sol, x, t) - s).max() < 1e-10 * np.abs(s).max()
    outside = np.vstack([x[:3], np.full((1, d), 9.0)])
    assert fp.density(sol, outside, 0.5)[-1] == 0.0
    with pytest.raises(ValueError, match=r"^x must lie in the box"):
        fp.score(sol, outside, 0.5)


# ----------------------------------------------------------------------------- one row


def test_run_density_row():
    row, data = tb.run_density(2, 108, n_grid=GRIDS[2], return_data=True, **TINY)  # no mass at the box edge
    assert set(row) == set(tb.COLUMNS)
    assert row["status"] == "ok", row["status"]
    assert row["kind"] == "mixture" and row["n_grid"] == GRIDS[2] and row["family"] == "paper"
    dens = densities.random_density(2, 108, grid=ch.grid(-8, 8, GRIDS[2], 2))
    K = dens.params.get("K")
    assert row["boundary_mass"] == densities.boundary_mass(dens, 1.0) and row["build_attempts"] == 1
    assert row["K"] == (None if K is None else int(K))
    assert abs(row["eps_rel"]) < 1e-12  # the pairing is optimal on the sample
    assert row["cost_E"] == pytest.approx(row["cost_OT"], rel=1e-12)
    assert 0 < row["ode_error"] < 1e-6 and row["ode_calls"] > 100
    assert row["stopped"] == 0  # a positive density: every trajectory exists
    assert row["solver_error"] < 1e-2 and row["mass_error"] < 1e-4  # coarse grid: modest accuracy
    assert all(row[c] >= 0 for c in ("t_density", "t_solve", "t_sample", "t_flow", "t_ot", "t_check", "cpu"))
    assert data["x"].shape == data["z"].shape == (TINY["samples"], 2)
    assert np.allclose(data["z"].mean(0), 0, atol=0.5)  # codes roughly standard normal


def test_splitting_solver_row_and_piecewise_encoder():
    row = tb.run_density(2, 1, n_grid=40, solver="splitting", steps=20, **TINY)
    assert row["status"] == "ok" and row["solver"] == "splitting"
    assert abs(row["eps_rel"]) < 1e-12
    assert row["solver_error"] > 1e-6  # Strang splitting with 20 steps


def test_a_failed_stage_is_reported_not_skipped(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the integrator broke")

    monkeypatch.setattr(tb.flow, "encode", broken)
    row = tb.run_density(2, 108, n_grid=GRIDS[2], **TINY)
    assert row["status"] == "failed at flow: RuntimeError: the integrator broke"
    assert math.isnan(row["eps_rel"]) and math.isnan(row["cost_E"])
    assert np.isfinite(row["solver_error"]) and np.isfinite(row["p0_error"])  # later stages still ran


def test_a_sample_where_the_solution_vanishes_is_stopped_not_failed():
    """On a coarse grid in 3-D a sample falls where the solution is <= 0: it is stopped, the rest encoded."""
    row = tb.run_density(3, 0, n_grid=30, samples=50, check_points=20)
    assert row["status"] == "ok", row["status"]
    assert 1 <= row["stopped"] < 50 and abs(row["eps_rel"]) < 1e-12


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"solver": "euler"}, r"^solver must be 'exact' or 'splitting'"),
        ({"samples": 0}, r"^samples must be an integer >= 1"),
        ({"samples": 1}, r"^samples must be >= 2 \(with one sample eps_rel is 0 by construction\)"),
        ({"rtol": -1.0}, r"^rtol must be a finite number > 0"),
        ({"family": "wild"}, r"^family must be one of 'paper', 'smooth'"),
    ],
)
def test_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        tb.run_density(2, 0, **kw)


def test_the_family_reaches_the_density_and_the_row():
    row = tb.run_density(2, 0, family="smooth", n_grid=GRIDS[2], **TINY)
    dens = densities.random_density(2, 0, family="smooth", grid=ch.grid(-8, 8, GRIDS[2], 2))
    assert row["family"] == "smooth" and row["p0_error"] == dens.error["points"]


def test_the_signed_density_stops_the_trajectories_that_reach_its_zero_set():
    """Eq. (15)'s interpolant is negative between nodes: some trajectories reach p_t = 0."""
    row, data = tb.run_density(7, 101, n_grid=20, samples=300, check_points=20, return_data=True)
    assert row["status"] == "ok", row["status"]
    alive = data["alive"]
    assert row["stopped"] == int((~alive).sum()) and 0 < row["stopped"] < 30
    assert abs(row["eps_rel"]) < 1e-12  # the pairing of the others is optimal
    assert row["cost_OT"] == pytest.approx(transport.ot_cost(data["x"][alive], data["z"][alive]))
    assert 0 < row["ode_error"] < 1e-6


def test_encode_stopping_alone_is_the_rows_encoder():
    """Without a check tolerance it runs once and gives the row's z and stopped points, bit for bit."""
    row, data = tb.run_density(3, 0, n_grid=30, samples=50, check_points=20, return_data=True)
    floor = tb.STOP_FLOOR * float(np.max(data["density"](data["x"])))
    z, z_check, alive = tb.encode_stopping(data["x"], data["solution"], floor, row["t_max"], row["rtol"])
    assert z_check is None and np.array_equal(alive, data["alive"]) and (~alive).sum() == row["stopped"] >= 1
    assert np.array_equal(z[alive], data["z"][alive])


def test_check_points_where_the_signed_density_is_negative_are_counted_not_failed():
    """fp.score has no value where p_hat_t <= 0: those check points leave the score error."""
    row, data = tb.run_density(7, 101, n_grid=20, samples=100, return_data=True)
    assert row["status"] == "ok", row["status"]
    assert 0 < row["check_unscored"] <= 4 * 100  # summed over the four check times
    sol, y = data["solution"], data["x"][:100]
    negative = int((fp.gradient(sol, y, 0.0, with_value=True)[1] <= 0).sum())
    assert negative <= row["check_unscored"]  # t = 0's share (y = x there, unclipped)
    assert math.isfinite(row["score_error"]) and math.isfinite(row["solver_error"])


# ----------------------------------------------------------------------------- the table runner


def _kw(tmp_path, name="t.csv", **extra):
    kw = {
        "out": tmp_path / name,
        "dims": (2,),
        "densities": 2,
        "samples": 30,
        "jobs": 1,
        "grid": {2: 40},
        "check_points": 10,
        "progress": False,
        "check_times": (0.0, 1.0),
    }
    kw.update(extra)
    return kw


def _numbers(rows):
    """Rows without the wall times (which differ between runs)."""
    return [
        {k: v for k, v in r.items() if not (k.startswith("t_") and k != "t_max") and k not in ("wall", "cpu")}
        for r in rows
    ]


def test_table_end_to_end_in_parallel(tmp_path):
    rows = tb.run_table(**_kw(tmp_path, dims=(2, 3), grid={2: 40, 3: 30}, jobs=2, samples=50))
    out = tmp_path / "t.csv"
    assert out.exists() and not (tmp_path / "t.csv.partial").exists()
    back = tb.read_rows(out)
    assert [(r["d"], r["seed"]) for r in back] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert [(r["d"], r["seed"]) for r in rows] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    with open(out, newline="") as fh:
        assert next(csv.reader(fh)) == tb.COLUMNS
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["config"]["grid"] == {"2": 40, "3": 30} and meta["wall_total"] > 0
    assert meta["summary"]["2"]["n"] == 2
    # d = 3, seed 0 on 30 nodes: a sample where the solution vanishes is stopped, the row stays ok
    assert back[2]["status"] == "ok" and back[2]["stopped"] >= 1
    summ = tb.summarise(back)
    assert (
        summ[3]["failed"] == 0
        and summ[3]["rows_stopped"] >= 1
        and summ[3]["stopped_max"] == max(r["stopped"] for r in back if r["d"] == 3)
    )
    md = tb.table1_markdown(back)
    assert md.count("\n") == 3 and "5.7e-15" in md
    assert {r["family"] for r in back} == {"paper"}


def test_resume_after_an_interruption(tmp_path, monkeypatch):
    calls = []
    real = tb.row_worker

    def interrupted(d, seed, kwargs):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append((d, seed))
        return real(d, seed, kwargs)

    monkeypatch.setattr(tb, "row_worker", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tb.run_table(**_kw(tmp_path))
    partial = tmp_path / "t.csv.partial"
    assert partial.exists() and not (tmp_path / "t.csv").exists()  # nothing half-written
    with open(partial, "a") as fh:
        fh.write('{"row": {"d": 2, "se')  # a torn last line is ignored

    def counting(d, seed, kwargs):
        calls.append((d, seed))
        return real(d, seed, kwargs)

    monkeypatch.setattr(tb, "row_worker", counting)
    rows = tb.run_table(**_kw(tmp_path))
    assert calls == [(2, 0), (2, 1)]  # seed 0 was not run again
    assert not partial.exists() and len(tb.read_rows(tmp_path / "t.csv")) == 2
    assert len(json.loads((tmp_path / "t.json").read_text())["sessions"]) == 2
    fresh = tb.run_table(**_kw(tmp_path, name="fresh.csv"))
    assert _numbers(rows) == _numbers(fresh)  # resuming changes nothing


def test_resume_refuses_another_configuration(tmp_path, monkeypatch):
    monkeypatch.setattr(tb, "row_worker", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        tb.run_table(**_kw(tmp_path))
    with pytest.raises(ValueError, match=r"^\S+t.csv.partial holds rows for another configuration"):
        tb.run_table(**_kw(tmp_path, samples=31))


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.csv"
    rc = tb.main(
        [
            "run",
            "--dims",
            "2",
            "--densities",
            "1",
            "--samples",
            "20",
            "--grid",
            "40",
            "--jobs",
            "1",
            "--check-points",
            "10",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.exists()
    text = capsys.readouterr().out
    assert "| 2 | 1 | 5.7e-15 |" in text and "wrote" in text
    assert json.loads(out.with_suffix(".json").read_text())["command"].startswith(
        "python -m ddpm_ot_lib.table1 run --dims 2"
    )
    assert tb.main(["summary", str(out)]) == 0
    assert "median flow" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--densities", "0", "--no-progress"], "error: densities must be an integer >= 1"),
        (["run", "--jobs", "0", "--no-progress"], "error: jobs must be an integer >= 1"),
        (["run", "--dims", "4", "--no-progress"], "error: no paper grid for d = 4"),
        (["run", "--rtol", "-1", "--no-progress"], "error: rtol must be a finite number > 0"),
        (["run", "--samples", "1", "--no-progress"], "error: samples must be >= 2 (with one sample"),
        (["run", "--scheduler", "tcp://x:1", "--no-progress"], "error: scheduler is only used by backend 'dask'"),
    ],
)
def test_command_line_bad_options(argv, message, tmp_path, capsys):
    assert tb.main(argv + ["--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--solver", "euler"],
        ["run", "--dims", "2", "3", "--grid", "1", "2", "3"],
        ["run", "--densities", "many"],
        ["run", "--family", "wild"],
        ["run", "--backend", "mpi"],
        [],
    ],
)
def test_command_line_malformed(argv, tmp_path):
    with pytest.raises(SystemExit) as exc:
        tb.main(argv + ["--out", str(tmp_path / "x.csv")] if argv else argv)
    assert exc.value.code == 2


def test_command_line_needs_out(capsys):
    with pytest.raises(SystemExit) as exc:
        tb.main(["run", "--dims", "2"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the runner keeps the data


def test_a_result_of_another_configuration_is_not_replaced(tmp_path, monkeypatch):
    tb.run_table(**_kw(tmp_path, densities=1))
    before = (tmp_path / "t.csv").read_text()
    monkeypatch.setattr(tb, "row_worker", lambda *a: pytest.fail("work started"))
    with pytest.raises(ValueError, match=r"^out '\S+t.csv' holds a result written with another configuration"):
        tb.run_table(**_kw(tmp_path, densities=1, samples=31))
    assert (tmp_path / "t.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]


def test_force_replaces_a_result_of_another_configuration(tmp_path):
    tb.run_table(**_kw(tmp_path, densities=1))
    rows = tb.run_table(**_kw(tmp_path, densities=1, samples=31, force=True))
    assert [r["samples"] for r in tb.read_rows(tmp_path / "t.csv")] == [31] == [r["samples"] for r in rows]


def test_a_result_without_its_record_is_not_replaced(tmp_path):
    (tmp_path / "t.csv").write_text("d,seed\n2,0\n")
    with pytest.raises(ValueError, match=r"^out '\S+t.csv' holds a result written without its .json record"):
        tb.run_table(**_kw(tmp_path, densities=1))
    assert (tmp_path / "t.csv").read_text() == "d,seed\n2,0\n"


def test_an_unwritable_out_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(tb, "row_worker", lambda *a: pytest.fail("work started"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"^out is not writable: '\S+file/sub/x.csv'"):
        tb.run_table(**_kw(tmp_path, name="file/sub/x.csv"))


def test_command_line_unwritable_out(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert tb.main(["run", "--dims", "2", "--no-progress", "--out", str(tmp_path / "file" / "x.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: out is not writable")


# ----------------------------------------------------------------------------- the dask backend


def test_dask_backend_gives_the_same_rows_and_resumes_the_same(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    local = tb.run_table(**_kw(tmp_path, name="local.csv"))
    # a local run killed after its first density, resumed on the cluster
    real = tb.row_worker
    calls = []

    def interrupted(d, seed, kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append((d, seed))
        return real(d, seed, kwargs)

    monkeypatch.setattr(tb, "row_worker", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tb.run_table(**_kw(tmp_path, name="mixed.csv"))
    monkeypatch.setattr(tb, "row_worker", real)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        addr = cluster.scheduler_address
        mixed = tb.run_table(**_kw(tmp_path, name="mixed.csv", backend="dask", scheduler=addr))
        on_dask = tb.run_table(**_kw(tmp_path, name="dask.csv", backend="dask", scheduler=addr))
    assert _numbers(on_dask) == _numbers(local) == _numbers(mixed)
    meta = json.loads((tmp_path / "mixed.json").read_text())
    assert [s["backend"] for s in meta["sessions"]] == ["local", "dask"]
    assert [s["rows"] for s in meta["sessions"]] == [1, 1]
