"""Conclusions follow the numbers: two hand-written result tables give different findings."""

from pointseg.sweep_report import Configuration, conclusions, summarise, table_rows

AXES = ["lr", "batch_size"]


def row(lr, batch_size, seed, miou, status="done", step=None):
    return {"lr": lr, "batch_size": batch_size, "seed": seed, "status": status, "miou": miou, "train_loss": 0.5, "step": step}


def test_summarise_groups_seeds_with_mean_and_spread():
    finished_in_this_order = [row(0.01, 16, 0, None, "diverged", 30), row(0.001, 16, 0, 0.60), row(0.001, 16, 1, 0.64)]
    configs = summarise(finished_in_this_order, AXES)
    assert [c.params for c in configs] == [{"lr": 0.001, "batch_size": 16}, {"lr": 0.01, "batch_size": 16}]  # grid order
    assert abs(configs[0].miou - 0.62) < 1e-12 and abs(configs[0].spread("miou") - 0.028284) < 1e-6
    assert configs[1].miou is None and configs[1].status == "diverged (1/1)" and configs[1].steps == [30]
    header, rows = table_rows(configs)
    assert header[:2] == AXES and header[-1] == "status"
    assert rows[0][header.index("mIoU")] == "0.6200 ± 0.0283"
    assert rows[1][header.index("mIoU")] == "-" and rows[1][-1] == "diverged (1/1)"
    grid = [{"lr": lr, "batch_size": 16, "seed": 0} for lr in (0.001, 0.01, 0.1)]  # a third never started
    with_grid = summarise(finished_in_this_order, AXES, grid=grid)
    assert [(c.params["lr"], c.status) for c in with_grid] == [(0.001, "done"), (0.01, "diverged (1/1)"), (0.1, "not run (1/1)")]
    assert conclusions(with_grid)[0].startswith("Best of the 1 configurations with a result: lr=0.001, batch_size=16")
    two_seeds = summarise(finished_in_this_order, AXES, seeds=2)  # a sweep of two seeds, stopped half-way
    assert [c.status for c in two_seeds] == ["done", "diverged (1/2), not run (1/2)"]
    assert conclusions(two_seeds)[-1] == "Diverged: lr=0.01, batch_size=16 (1 of 2 seeds, at step 30)."


def test_conclusions_of_a_clear_winner_with_a_diverged_run():
    table = [
        row(0.001, 16, 0, 0.60), row(0.001, 16, 1, 0.62),
        row(0.001, 32, 0, 0.55), row(0.001, 32, 1, 0.56),
        row(0.01, 16, 0, 0.50), row(0.01, 16, 1, 0.52),
        row(0.01, 32, 0, None, "diverged", 40), row(0.01, 32, 1, 0.40),
    ]  # fmt: skip
    lines = conclusions(summarise(table, AXES))
    assert lines[0] == (
        "Best configuration: lr=0.001, batch_size=16 with mIoU 0.6100 (2 runs). Its margin over the next best "
        "(lr=0.001, batch_size=32, 0.5550) is 0.0550, more than twice the standard error of the difference (0.0112): "
        "the ranking holds."
    )
    assert lines[1] == (
        "Learning rate: mean mIoU 0.5825 at lr=0.001, 0.4550 at lr=0.01; the best value is lr=0.001 (+0.1275 over the worst)."
    )
    assert lines[2].startswith("Batch size: mean mIoU 0.5600 at batch_size=16, 0.4775 at batch_size=32")
    assert lines[3] == "Diverged: lr=0.01, batch_size=32 (1 of 2 seeds, at step 40)."


def test_conclusions_change_when_the_numbers_change():
    table = [
        row(0.001, 16, 0, 0.50), row(0.001, 16, 1, 0.58),
        row(0.01, 16, 0, 0.55), row(0.01, 16, 1, 0.56),
        row(0.001, 64, 0, 0.40), row(0.01, 64, 0, 0.45),
        row(0.001, 32, 0, 0.45), row(0.01, 32, 0, 0.50),
    ]  # fmt: skip
    lines = conclusions(summarise(table, AXES))
    assert lines[0].startswith("Best configuration: lr=0.01, batch_size=16 with mIoU 0.5550")
    assert "within twice the standard error of the difference (0.0403)" in lines[0] and "not distinguishable" in lines[0]
    assert "the best value is lr=0.01" in lines[1]
    assert lines[2].endswith("mIoU falls as batch_size grows.")
    assert lines[3] == "No configuration diverged or failed."


def test_conclusions_without_a_finished_run():
    configs = [Configuration({"lr": 1.0}, ["failed"])]
    assert conclusions(configs) == [
        "No configuration has finished yet: there is nothing to conclude.",
        "Failed: lr=1.0 (1 of 1 seeds).",
    ]
    trained_unscored = [Configuration({"lr": 0.1}, ["done"]), *configs]  # --val-fraction 0: no validation image
    assert conclusions(trained_unscored)[0] == "No configuration has an mIoU (no validation image): there is nothing to compare."


def test_axis_values_with_unfinished_configurations_say_so():
    table = [row(0.001, 16, 0, 0.6), row(0.001, 32, 0, 0.5), row(0.1, 16, 0, 0.55), row(0.1, 32, 0, None, "diverged", 12)]
    lines = conclusions(summarise(table, AXES))
    assert "0.6000 at lr=0.001, 0.5500 at lr=0.1 (compared where every value has a result: at batch_size=16 only)" in lines[1]
    assert "(1 run)" in lines[0] and "single finished run" in lines[0]


def test_an_axis_value_is_compared_only_where_every_value_has_a_result():
    # lr=0.01 loses at every batch size where both finished; it diverged at the one where lr=0.001 scored lowest
    table = [row(0.001, 16, 0, 0.50), row(0.001, 32, 0, 0.48), row(0.001, 64, 0, 0.20),
             row(0.01, 16, 0, 0.45), row(0.01, 32, 0, 0.43), row(0.01, 64, 0, None, "diverged", 9)]  # fmt: skip
    lines = conclusions(summarise(table, AXES))
    assert lines[1] == (
        "Learning rate: mean mIoU 0.4900 at lr=0.001, 0.4400 at lr=0.01 (compared where every value has a result: at "
        "batch_size=16 and batch_size=32 only); the best value is lr=0.001 (+0.0500 over the worst)."
    )  # over all cells, lr=0.01 came out best: 0.4400 against 0.3933
    assert lines[2].startswith(
        "Batch size: mean mIoU 0.5000 at batch_size=16, 0.4800 at batch_size=32, 0.2000 at batch_size=64 (compared"
    )
    apart = conclusions(summarise([row(0.001, 16, 0, 0.5), row(0.01, 32, 0, 0.4), row(0.01, 16, 0, None, "diverged", 3)], AXES))
    assert "Learning rate: no setting of the other axes has a result at every value of lr: not compared." in apart
    # a learning rate that diverged everywhere is named, and the others are still compared
    table += [row(1.0, 16, 0, None, "diverged", 2), row(1.0, 32, 0, None, "diverged", 2), row(1.0, 64, 0, None, "diverged", 1)]
    assert conclusions(summarise(table, AXES))[1].endswith("(+0.0500 over the worst); lr=1.0 has no result.")


def test_the_label_budget_table_gives_each_method_its_share_of_full_masks(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from pointseg.sweep_report import budget_figure, budget_findings, budget_rows

    def budget(points, method, miou):
        return {"points": points, "method": method, "seed": 0, "status": "done", "miou": miou}

    table = [budget("5", "pce", 0.2), budget("5", "crf", 0.3), budget("20", "pce", 0.3), budget("20", "crf", 0.36),
             budget("full", "pce", 0.4)]  # fmt: skip
    configs = summarise(table, ["points", "method"])
    counts = {f"points={p}, method={m}": n for p, n in (("5", 50), ("20", 200)) for m in ("pce", "crf")}  # labelled pixels
    header, rows = budget_rows(configs, counts)
    assert header == ["", "50 labelled pixels", "200 labelled pixels", "full masks"]
    assert rows == [  # grid order: methods by name
        ["method=crf", "0.3000 (75 %)", "0.3600 (90 %)", "0.4000"],
        ["method=pce", "0.2000 (50 %)", "0.3000 (75 %)", "0.4000"],
    ]
    assert budget_findings(configs, counts) == [
        "With 50 labelled pixels the best is method=crf: mIoU 0.3000, 75.0 % of full masks (0.4000).",
        "With 200 labelled pixels the best is method=crf: mIoU 0.3600, 90.0 % of full masks (0.4000).",
    ]
    lines = conclusions(configs)  # the method means over the point budgets: full masks were trained with pce alone
    assert "method: mean mIoU 0.3300 at method=crf, 0.2500 at method=pce; the best value is method=crf" in lines[2]
    assert lines[1].startswith(  # full masks trained with pce alone: the budgets compared on pce
        "points: mean mIoU 0.2000 at points=5, 0.3000 at points=20, 0.4000 at points=full (compared where every value "
        "has a result: at method=pce only)"
    )
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at it
    assert budget_figure(configs, counts, tmp_path / "budget.png").stat().st_size > 0
    (axes,) = figures[0].axes
    assert axes.get_xscale() == "log"
    lines = {line.get_label(): line.get_xydata().tolist() for line in axes.get_lines()}
    assert lines == {
        "method=crf": [[50, 0.3], [200, 0.36]],
        "method=pce": [[50, 0.2], [200, 0.3]],
        "full masks": [[0, 0.4], [1, 0.4]],  # a horizontal line across the axes
    }
    assert budget_rows(summarise(table[:4], ["points", "method"]), counts) is None  # no full-mask reference: no table
    alone = summarise([row for row in table if row["method"] == "pce"], ["points"])  # one line: the sweep's fixed method
    counts = {"points=5": 50, "points=20": 200}
    assert budget_rows(alone, counts)[1] == [["points", "0.2000 (50 %)", "0.3000 (75 %)", "0.4000"]]
    assert budget_findings(alone, counts)[0] == "With 50 labelled pixels: mIoU 0.2000, 50.0 % of full masks (0.4000)."


def test_point_budgets_are_listed_by_their_number_then_full_masks():
    rows = [{"points": p, "seed": 0, "status": "done", "miou": 0.5} for p in ("full", "20", "5", "100")]
    configs = summarise(rows, ["points"])
    assert [c.params["points"] for c in configs] == ["5", "20", "100", "full"]  # not "100", "20", "5" as text
    assert [cells[0] for cells in table_rows(configs)[1]] == ["5", "20", "100", "full"]


def test_a_run_whose_data_is_not_found_from_here_leaves_its_panels_out_and_says_why(tmp_path, monkeypatch):
    import pytest

    from pointseg.config import TrainConfig
    from pointseg.errors import PointsegWarning
    from pointseg.sweep_report import panels_figure

    run = tmp_path / "sweep/lr=0.01_seed=0"
    run.mkdir(parents=True)
    (run / "model.ckpt").write_bytes(b"")
    (run / "config.json").write_text(TrainConfig(data="data", classes="classes.csv", out=run).model_dump_json())
    monkeypatch.chdir(tmp_path / "sweep")  # not where the sweep ran
    with pytest.warns(PointsegWarning, match=r"panels are left out: classes table not found: classes.csv \(the sweep's paths"):
        assert panels_figure(run, tmp_path / "predictions.png") is None
