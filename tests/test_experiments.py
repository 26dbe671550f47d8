"""The Table 1 pipeline (ddpm_ot_lib.experiments): fast exact solution, references, rows, runner, CLI."""
import csv
import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from ddpm_ot_lib import chebyshev as ch
from ddpm_ot_lib import densities
from ddpm_ot_lib import experiments as ex
from ddpm_ot_lib import fokker_planck as fp
from ddpm_ot_lib import sampling

# small settings: every row below takes well under a second
TINY = {"samples": 40, "check_points": 20}
GRIDS = {2: 48, 3: 36}


# ----------------------------------------------------------------------------- the exact solution

@pytest.mark.parametrize("d, n", [(2, 60), (3, 40)])
def test_exact_ou_equals_fokker_planck_solve_exact(d, n):
    g = ch.grid(-8, 8, n, d)
    dens = densities.random_density(d, 1, family="smooth", grid=g)
    sol = fp.solve_exact(dens.tt, g, [0.0])
    ou = ex.ExactOU(dens.tt, g)
    x = sampling.tt_sample(dens.tt, g, 200, seed=0)
    for t in (0.0, 0.05, 0.7, 5.0):
        p = fp.density(sol, x, t)
        assert np.abs(ou.density(x, t) - p).max() < 1e-12 * p.max()
        s = fp.score(sol, x, t)
        assert np.abs(ou.score(x, t) - s).max() < 1e-10 * np.abs(s).max()
        tt_ref = fp.tt_at(sol, t)[0][1]
        assert ch.tt_relative_error(ou.tt(t), tt_ref) < 1e-12
        assert ou.mass(t) == pytest.approx(ch.tt_integral(tt_ref, g), abs=1e-12)
    assert ou.calls == 4


def test_exact_ou_refuses_points_outside_the_box_and_nonpositive_density():
    g = ch.grid(-8, 8, 30, 2)
    ou = ex.ExactOU(densities.random_density(2, 0, family="smooth", grid=g).tt, g)
    with pytest.raises(ValueError, match="box"):
        ou.score(np.array([[9.0, 0.0]]), 0.5)
    ou_neg = ex.ExactOU([-G if k == 0 else G for k, G in enumerate(densities.random_density(2, 0, family="smooth", grid=g).tt)], g)
    with pytest.raises(ValueError, match="p_t"):
        ou_neg.score(np.zeros((1, 2)), 0.5)
    with pytest.raises(ValueError, match="cores"):
        ex.ExactOU(densities.random_density(2, 0, family="smooth", grid=g).tt, ch.grid(-8, 8, 30, 3))


# ----------------------------------------------------------------------------- independent references

def test_mixture_reference_against_fokker_planck_ou_reference_2d():
    dens = densities.random_density(2, 3, family="smooth", grid=ch.grid(-8, 8, 60, 2))
    x = np.random.default_rng(0).normal(size=(60, 2))
    for t in (0.05, 0.1, 1.0, 5.0):
        p, grad = ex.reference_density(dens, x, t, gradient=True)
        r, rg = fp.ou_reference(dens, t, x=x, with_gradient=True)
        assert np.abs(p - r).max() < 1e-12 * r.max()
        assert np.abs(grad / p[:, None] - rg / r[:, None]).max() < 1e-10 * np.abs(rg / r[:, None]).max()
    with pytest.raises(ValueError, match="t > 0"):
        ex.mixture_reference(dens.params, 2, x, 0.0)


def test_mixture_reference_against_gaussian_mixture_closed_form_3d():
    """With the quartic term switched off Eq. (14) is a Gaussian mixture, whose p_t is explicit."""
    dens = densities.mixture_density(3, 5, grid=ch.grid(-8, 8, 30, 3), quartic_range=(0.0, 0.0),
                                     eig_range=(2.0, 4.0), centre_range=1.0)
    P = dens.params
    x = np.random.default_rng(1).normal(size=(50, 3)) * 0.8
    for t in (0.1, 1.0, 5.0):
        c, s2 = np.exp(-t), -np.expm1(-2 * t)
        exact, mass = 0.0, 0.0
        for w, mu, A in zip(P["weights"], P["centres"], P["precisions"]):
            S = np.linalg.inv(A)
            z = w * np.sqrt(np.linalg.det(2 * np.pi * S))
            exact = exact + z * stats.multivariate_normal(c * mu, c * c * S + s2 * np.eye(3)).pdf(x)
            mass += z
        p = ex.mixture_reference(P, 3, x, t)
        assert np.abs(p - exact / mass).max() < 1e-11 * (exact / mass).max()


def test_tt_gaussian_reference_closed_form():
    dens = densities.random_density(7, 2, family="smooth", grid=ch.grid(-8, 8, 30, 7))
    x = np.random.default_rng(2).normal(size=(40, 7))
    # t = 0 is the formula; the gradient matches central differences at t > 0
    assert np.allclose(ex.reference_density(dens, x, 0.0), dens(x), rtol=1e-13, atol=0)
    t, h = 0.7, 1e-6
    _, grad = ex.tt_gaussian_reference(dens.params, x, t, dens.norm_const, gradient=True)
    fd = np.stack([(ex.tt_gaussian_reference(dens.params, x + h * e, t, dens.norm_const)
                    - ex.tt_gaussian_reference(dens.params, x - h * e, t, dens.norm_const)) / (2 * h)
                   for e in np.eye(7)], axis=1)
    assert np.abs(grad - fd).max() < 1e-7 * np.abs(fd).max()
    # and the exact TT solver on a grid fine enough for 1e-8 agrees with the closed form
    g = ch.grid(-8, 8, 60, 7)
    fine = densities.random_density(7, 2, family="smooth", grid=g)
    ou = ex.ExactOU(fine.tt, g)
    y = sampling.tt_sample(fine.tt, g, 100, seed=1)
    for t in (0.2, 2.0):
        ref = ex.tt_gaussian_reference(fine.params, y, t, fine.norm_const)
        assert np.abs(ou.density(y, t) - ref).max() < 1e-8 * ref.max()


def test_mixture_formula_gradient():
    dens = densities.random_density(3, 4, family="smooth", grid=ch.grid(-8, 8, 30, 3))
    x = np.random.default_rng(3).normal(size=(30, 3))
    p, grad = ex.mixture_formula(dens.params, x, gradient=True)
    assert np.allclose(p, dens.unnormalised(x), rtol=1e-13)
    h = 1e-6
    fd = np.stack([(dens.unnormalised(x + h * e) - dens.unnormalised(x - h * e)) / (2 * h) for e in np.eye(3)], 1)
    assert np.abs(grad - fd).max() < 1e-7 * np.abs(fd).max()


# ----------------------------------------------------------------------------- one row

def test_run_density_row():
    row, data = ex.run_density(2, 0, n_grid=GRIDS[2], return_data=True, **TINY)
    assert set(row) == set(ex.COLUMNS)
    assert row["status"] == "ok", row["status"]
    assert row["kind"] == "mixture" and row["K"] in (2, 3) and row["n_grid"] == GRIDS[2]
    assert abs(row["eps_rel"]) < 1e-12                      # the pairing is optimal on the sample
    assert row["cost_E"] == pytest.approx(row["cost_OT"], rel=1e-12)
    assert 0 < row["ode_error"] < 1e-6 and row["ode_calls"] > 100
    assert row["solver_error"] < 1e-2 and row["mass_error"] < 1e-4   # coarse grid: modest accuracy
    assert all(row[c] >= 0 for c in ("t_density", "t_solve", "t_sample", "t_flow", "t_ot", "t_check", "cpu"))
    assert data["x"].shape == data["z"].shape == (TINY["samples"], 2)
    assert np.allclose(data["z"].mean(0), 0, atol=0.5)      # codes roughly standard normal


def test_splitting_solver_row_and_piecewise_encoder():
    row = ex.run_density(2, 1, n_grid=40, solver="splitting", steps=20, **TINY)
    assert row["status"] == "ok" and row["solver"] == "splitting"
    assert abs(row["eps_rel"]) < 1e-12
    assert row["solver_error"] > 1e-6                       # Strang splitting with 20 steps


def test_a_failed_approximation_is_reported_not_skipped():
    """On a coarse grid in 3-D a sample falls where the solution is <= 0: the flow fails, the row stays."""
    row = ex.run_density(3, 0, n_grid=30, samples=50, check_points=20)
    assert row["status"].startswith("failed at flow: ValueError: p_t(x) <= 0")
    assert math.isnan(row["eps_rel"]) and math.isnan(row["cost_E"])
    assert np.isfinite(row["solver_error"]) and np.isfinite(row["p0_error"])   # later stages still ran
    assert row["ode_calls"] > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="solver"):
        ex.run_density(2, 0, solver="euler")
    with pytest.raises(ValueError, match="samples"):
        ex.run_density(2, 0, samples=0)
    with pytest.raises(ValueError, match="rtol"):
        ex.run_density(2, 0, rtol=-1.0)


# ----------------------------------------------------------------------------- the table runner

def _kw(tmp_path, name="t.csv", **extra):
    kw = {"dims": (2,), "densities": 2, "samples": 30, "jobs": 1, "out": tmp_path / name,
          "grid": {2: 40}, "check_points": 10, "progress": False, "check_times": (0.0, 1.0)}
    kw.update(extra)
    return kw


def _numbers(rows):
    """Rows without the wall times (which differ between runs)."""
    return [{k: v for k, v in r.items() if not (k.startswith("t_") and k != "t_max") and k not in ("wall", "cpu")}
            for r in rows]


def test_table_end_to_end_in_parallel(tmp_path):
    rows = ex.run_table(**_kw(tmp_path, dims=(2, 3), grid={2: 40, 3: 30}, jobs=2, samples=50))
    out = tmp_path / "t.csv"
    assert out.exists() and not (tmp_path / "t.csv.partial").exists()
    back = ex.read_rows(out)
    assert [(r["d"], r["seed"]) for r in back] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert [(r["d"], r["seed"]) for r in rows] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    with open(out, newline="") as fh:
        assert next(csv.reader(fh)) == ex.COLUMNS
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["config"]["grid"] == {"2": 40, "3": 30} and meta["wall_total"] > 0
    assert meta["summary"]["2"]["n"] == 2
    # a failed density (d = 3, seed 0 on 30 nodes) has its row, with its reason
    assert back[2]["status"].startswith("failed at flow")
    summ = ex.summarise(back)
    assert summ[3]["failed"] == 1 and summ[2]["failed"] == 0
    md = ex.table1_markdown(back)
    assert md.count("\n") == 3 and "5.7e-15" in md


def test_resume_after_an_interruption(tmp_path, monkeypatch):
    calls = []
    real = ex._row_worker

    def interrupted(d, seed, kwargs):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append((d, seed))
        return real(d, seed, kwargs)

    monkeypatch.setattr(ex, "_row_worker", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ex.run_table(**_kw(tmp_path))
    partial = tmp_path / "t.csv.partial"
    assert partial.exists() and not (tmp_path / "t.csv").exists()     # nothing half-written
    with open(partial, "a") as fh:
        fh.write('{"row": {"d": 2, "se')                                # a torn last line is ignored

    def counting(d, seed, kwargs):
        calls.append((d, seed))
        return real(d, seed, kwargs)

    monkeypatch.setattr(ex, "_row_worker", counting)
    rows = ex.run_table(**_kw(tmp_path))
    assert calls == [(2, 0), (2, 1)]                                  # seed 0 was not run again
    assert not partial.exists() and len(ex.read_rows(tmp_path / "t.csv")) == 2
    assert len(json.loads((tmp_path / "t.json").read_text())["sessions"]) == 2
    fresh = ex.run_table(**_kw(tmp_path, name="fresh.csv"))
    assert _numbers(rows) == _numbers(fresh)                          # resuming changes nothing


def test_resume_refuses_another_configuration(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "_row_worker", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ex.run_table(**_kw(tmp_path))
    with pytest.raises(ValueError, match="another configuration"):
        ex.run_table(**_kw(tmp_path, samples=31))


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("old\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        ex._atomic_write(path, "new\n")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli.csv"
    rc = ex.main(["table1", "--dims", "2", "--densities", "1", "--samples", "20", "--grid", "40", "--jobs", "1",
                  "--check-points", "10", "--no-progress", "--out", str(out)])
    assert rc == 0 and out.exists()
    text = capsys.readouterr().out
    assert "| 2 | 1 | 5.7e-15 |" in text and "wrote" in text
    assert json.loads(out.with_suffix(".json").read_text())["command"].startswith(
        "python -m ddpm_ot_lib.experiments table1 --dims 2")
    assert ex.main(["summary", str(out)]) == 0
    assert "median flow" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["table1", "--densities", "0", "--no-progress"], "densities"),
    (["table1", "--jobs", "0", "--no-progress"], "jobs"),
    (["table1", "--dims", "4", "--no-progress"], "no paper grid"),
    (["table1", "--rtol", "-1", "--no-progress"], "rtol"),
])
def test_command_line_bad_options(argv, message, tmp_path, capsys):
    assert ex.main(argv + ["--out", str(tmp_path / "x.csv")]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["table1", "--solver", "euler"],
                                  ["table1", "--dims", "2", "3", "--grid", "1", "2", "3"],
                                  ["table1", "--densities", "many"], []])
def test_command_line_malformed(argv, tmp_path):
    with pytest.raises(SystemExit) as exc:
        ex.main(argv + ["--out", str(tmp_path / "x.csv")] if argv else argv)
    assert exc.value.code == 2


# ----------------------------------------------------------------------------- the chapter's plot helpers

def test_plot_helpers_of_the_chapter():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddpm_ot_lib import plots

    fig, axes = plt.subplots(1, 3)
    vals = np.exp(-np.add.outer(np.linspace(-2, 2, 20) ** 2, np.linspace(-2, 2, 30) ** 2))
    assert plots.density_map(axes[0], vals, (-2, 2, -2, 2)) is axes[0]
    assert len(axes[0].images) == 1
    lines = np.random.default_rng(0).normal(size=(4, 10, 2))
    lines[0, 3] = np.nan                                       # gaps are allowed
    plots.polylines(axes[1], lines)
    assert len(axes[1].lines) == 4
    plots.strip(axes[2], {2: [1e-16, -2e-16, np.nan], 3: [3e-16]}, reference={2: 5e-15, 3: 2e-15})
    assert len(axes[2].collections) == 2 and len(axes[2].lines) == 2
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["2", "3"]
    with pytest.raises(ValueError, match="2-D"):
        plots.density_map(axes[0], np.ones(5), (0, 1, 0, 1))
    with pytest.raises(ValueError, match="extent"):
        plots.density_map(axes[0], vals, (1, 0, 0, 1))
    with pytest.raises(ValueError, match="lines"):
        plots.polylines(axes[1], [np.ones((3, 3))])
    with pytest.raises(ValueError, match="groups"):
        plots.strip(axes[2], {})
    plt.close(fig)
