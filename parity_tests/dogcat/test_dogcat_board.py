"""What a dog/cat run shows in TensorBoard: histograms twice an epoch by default, no chart that
repeats another, hparams that apply to the model with booleans as booleans, and the line that
says how to read the weight image."""

import pytest

from nnlab.dogcat.tensorboard_log import WEIGHT_IMAGE_LEGEND, default_hist_every
from nnlab.dogcat.train import train
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat


def events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def hparams_of(acc):
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    return dict(start.session_start_info.hparams), {i.name: i.type for i in experiment.experiment.hparam_infos}


def test_logistic_run_histograms_twice_an_epoch_no_repeated_chart_and_a_legend(tmp_path):
    # 64 training images in batches of 16: 4 steps an epoch; --log-every 50 exceeds the epoch
    config = tiny_config(tmp_path, epochs=3, tensorboard=True, log_every=50)
    assert config.hist_every is None
    train(config, data=tiny_dogcat(), log=lambda msg: None)
    acc = events(tmp_path / "run")
    assert default_hist_every(4) == 2
    assert [e.step for e in acc.Histograms("weights/classifier.weight")] == [2, 4, 6, 8, 10, 12]
    assert "loss/train" in acc.Tags()["scalars"]
    assert "loss/train_recent" not in acc.Tags()["scalars"]  # every interval was a whole epoch: = loss/train
    legend = acc.Tensors("weights/logistic")
    assert len(legend) == 1 and legend[0].tensor_proto.string_val[0].decode() == WEIGHT_IMAGE_LEGEND
    assert "Grey is w = 0" in WEIGHT_IMAGE_LEGEND
    values, types = hparams_of(acc)
    assert {"model", "optimizer", "lr", "impl"} <= set(values)
    assert not {"activation", "batchnorm", "hidden", "momentum", "channels"} & set(values)  # not the logistic's


def test_mlp_hparams_list_its_settings_with_booleans_as_booleans(tmp_path):
    from tensorboard.plugins.hparams import api_pb2

    config = tiny_config(tmp_path, epochs=1, tensorboard=True, model="mlp", hidden=[5], batchnorm=True,
                         optimizer="momentum", lr=0.01)
    train(config, data=tiny_dogcat(), log=lambda msg: None)
    values, types = hparams_of(events(tmp_path / "run"))
    assert values["batchnorm"].bool_value is True and types["batchnorm"] == api_pb2.DATA_TYPE_BOOL
    assert values["hidden"].string_value == "5" and values["activation"].string_value == "relu"
    assert values["momentum"].number_value == pytest.approx(0.9)
    assert values["lr"].number_value == pytest.approx(0.01) and types["lr"] == api_pb2.DATA_TYPE_FLOAT64
