"""Training control in the dog/cat trainer: schedules (with warm-up), clipping, dropout, Adagrad and
augmentation keep the twins in lockstep; the rates follow the plan; bad combinations are refused."""

import numpy as np
import pytest
import torch

import torch_ref.lr_scheduler as torch_schedulers
from nnlab.dogcat.checkpoint import load_checkpoint
from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.schedules import SchedulePlan, build_scheduler
from nnlab.dogcat.train import train
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat

STEPS_PER_EPOCH = 4  # 64 training images of tiny_dogcat() in batches of 16

CASES = {
    "cosine, warm-up, adam, clip, dropout, augment": dict(
        scheduler="cosine", warmup_epochs=1, optimizer="adam", lr=1e-2, clip_grad=0.5, dropout=0.2, augment=True,
        shift=2),
    "step, momentum, clip": dict(scheduler="step", step_epochs=1, lr_gamma=0.5, optimizer="momentum", lr=0.05,
                                 clip_grad=0.1),
    "onecycle, adagrad, dropout": dict(scheduler="onecycle", optimizer="adagrad", lr=0.05, dropout=0.3),
    "onecycle, adam (beta1 cycles)": dict(scheduler="onecycle", optimizer="adam", lr=1e-2),
    "none with warm-up, sgd": dict(scheduler="none", warmup_epochs=1.5, optimizer="sgd", lr=0.1, dropout=0.1),
    "plateau, rmsprop, clip": dict(scheduler="plateau", patience=0, lr_gamma=0.5, optimizer="rmsprop", lr=1e-2,
                                   clip_grad=1.0),
}


def planned_rate(case, epochs, steps):
    """The rate after ``steps`` steps, replayed with torch's schedulers on a lone parameter."""
    cfg = TrainConfig(model="mlp", epochs=epochs, **case).validated()
    name, kwargs = cfg.optimizer_kwargs()
    optimizer = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(1))], **kwargs)
    scheduler = build_scheduler(torch_schedulers, optimizer, cfg.schedule_plan(STEPS_PER_EPOCH))
    for _ in range(steps):
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("case", list(CASES))
def test_schedules_clipping_dropout_and_adagrad_keep_the_twins_in_lockstep(tmp_path, case):
    epochs = 3
    cfg = tiny_config(tmp_path, impl="both", model="mlp", hidden=[8], epochs=epochs, **CASES[case])
    result = train(cfg, data=tiny_dogcat(), log=lambda msg: None)
    assert [p["epoch"] for p in result.parity] == [1, 2, 3]
    assert max(p["max_abs_diff"] for p in result.parity) <= 1e-10, result.parity
    twins = load_checkpoint(tmp_path / "run")["twins"]
    rates = [twins[t]["optimizer"]["param_groups"][0]["lr"] for t in ("torch", "scratch")]
    assert rates[0] == rates[1]
    if CASES[case]["scheduler"] != "plateau":  # the plateau's rate depends on the losses
        assert rates[0] == pytest.approx(planned_rate(CASES[case], epochs, epochs * STEPS_PER_EPOCH), abs=1e-15)
        assert rates[0] != CASES[case]["lr"] or CASES[case]["scheduler"] == "none"


def test_plateau_decays_when_the_validation_loss_stalls(tmp_path):
    """patience 0 and a rate so small that the loss barely moves: the rate is halved after each epoch that does not
    improve; both twins decide on the same (the primary twin's) validation loss."""
    cfg = tiny_config(tmp_path, impl="both", model="logistic", optimizer="sgd", lr=1e-6, epochs=3,
                      scheduler="plateau", patience=0, lr_gamma=0.5)
    train(cfg, data=tiny_dogcat(), log=lambda msg: None)
    twins = load_checkpoint(tmp_path / "run")["twins"]
    for name in ("torch", "scratch"):
        assert twins[name]["scheduler"]["num_bad_epochs"] == 0
        assert twins[name]["optimizer"]["param_groups"][0]["lr"] == 2.5e-7  # halved after epochs 2 and 3
    assert twins["torch"]["scheduler"] == twins["scratch"]["scheduler"]


def test_warm_up_rises_linearly_from_a_tenth():
    plan = SchedulePlan.from_settings("cosine", epochs=2, steps_per_epoch=10, warmup_epochs=0.5)
    assert (plan.total_steps, plan.warmup_steps) == (20, 5)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build_scheduler(torch_schedulers, optimizer, plan)
    rates = []
    for _ in range(plan.total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(rates[:6], [0.1, 0.28, 0.46, 0.64, 0.82, 1.0], rtol=1e-12)
    assert all(a > b for a, b in zip(rates[5:], rates[6:])) and rates[-1] < 0.03


@pytest.mark.parametrize("settings, message", [
    (dict(model="mlp", scheduler="onecycle", warmup_epochs=1), "--warmup-epochs applies only with --scheduler"),
    (dict(model="mlp", channels=[8]), "--channels applies only with --model cnn"),
    (dict(model="logistic", dropout=0.5), "--dropout applies only with --model mlp or cnn"),
    (dict(model="cnn", augment=False, shift=4), "--shift applies only with --augment True"),
    (dict(model="mlp", scheduler="cosine", patience=3), "--patience applies only with --scheduler plateau"),
])
def test_flags_that_do_nothing_here_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings, given=frozenset(settings)).validated()


@pytest.mark.parametrize("settings, message", [
    (dict(model="cnn", dropout=1.0), r"dropout: expected a probability in \[0, 1\), got 1.0"),
    (dict(clip_grad=0.0), "clip_grad: expected a positive finite norm, got 0.0"),
    (dict(lr_gamma=1.5), r"lr_gamma: expected a factor in \(0, 1\], got 1.5"),
    (dict(scheduler="warm"), "scheduler: expected one of"),
    (dict(model="cnn", image_size=8), "got --shift 8 for 8x8 px images"),
])
def test_out_of_range_settings_name_the_setting(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings).validated()


def test_a_warm_up_that_fills_the_run_is_refused():
    with pytest.raises(ValueError, match="leaves no steps of the cosine schedule"):
        SchedulePlan.from_settings("cosine", epochs=2, steps_per_epoch=10, warmup_epochs=2)
    with pytest.raises(ValueError, match="onecycle warms up by itself"):
        SchedulePlan.from_settings("onecycle", epochs=2, steps_per_epoch=10, warmup_epochs=1)


def test_model_defaults_fill_only_what_was_not_given():
    cnn = TrainConfig(model="cnn").validated()
    assert (cnn.lr, cnn.batch_size, cnn.scheduler, cnn.dropout, cnn.augment) == (1e-3, 64, "cosine", 0.3, True)
    mine = TrainConfig(model="cnn", lr=5e-4, augment=False, dropout=0.0).validated()
    assert (mine.lr, mine.augment, mine.dropout, mine.batch_size) == (5e-4, False, 0.0, 64)
    logistic = TrainConfig().validated()
    assert (logistic.lr, logistic.batch_size, logistic.epochs, logistic.augment) == (1e-4, 128, 15, False)
    assert TrainConfig(model="cnn").describe().startswith("cnn16-32-64-128-256-relu-drop0.3-torch-adam-lr0.001-bs64")


def test_resuming_past_the_end_of_a_cosine_schedule_is_refused(tmp_path):
    cfg = tiny_config(tmp_path, impl="torch", model="mlp", hidden=[4], epochs=1, scheduler="cosine")
    train(cfg, data=tiny_dogcat(), log=lambda msg: None)
    longer = tiny_config(tmp_path, impl="torch", model="mlp", hidden=[4], epochs=3, scheduler="cosine",
                         given=frozenset({"epochs"}))
    with pytest.raises(ValueError, match="past the end of the run's cosine schedule, laid out over its 1 epochs"):
        train(longer, data=tiny_dogcat(), resume=str(tmp_path / "run"), log=lambda msg: None)
