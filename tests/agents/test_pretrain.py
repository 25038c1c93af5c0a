"""Offline pretraining of the transformer backbone and ``--init-from`` (issue 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import rec_gym  # noqa: F401  (registers the ids)
from agents.policies import ItemScoringHead
from agents.pretrain import (
    PretrainConfig,
    env_facts,
    history_observations,
    init_from_backbone,
    next_item_examples,
    pretrain,
    read_backbone,
    sidecar_path,
    training_examples,
)
from agents.registry import ConfigError
from agents.runner import TrainConfig, build_model, main, make_training_env, validate
from rec_gym.envs.rec_env import PROGRESS_TABLE
from tests.data.synthetic import make_log, write_100k

ROOT = Path(__file__).resolve().parents[2]
#: Small, fast calibration of the synthetic log.
CALIBRATION = {"latent_dim": 4, "n_simulated_users": 100, "mf_iterations": 6}
TINY_POLICY = {"hidden_dim": 16, "n_layers": 1, "n_heads": 2}
TINY = {
    "ppo": {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1},
    "dqn": {"n_envs": 1, "learning_starts": 50, "buffer_size": 500, "train_freq": 4},
}


def _hyperparams(folder: Path, algo: str, **policy: Any) -> Path:
    path = folder / f"{algo}-{policy.get('hidden_dim', 16)}.yml"
    block = {**TINY[algo], "transformer_policy": {**TINY_POLICY, **policy}}
    path.write_text(yaml.safe_dump({"default": block}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A synthetic MovieLens-100K-layout log, its calibration cache and a pretrained backbone."""
    root = tmp_path_factory.mktemp("pretrain")
    data = write_100k(make_log(n_users=150, n_items=40, seed=0), root / "ml")
    env_kwargs = {"cache_dir": str(root / "cache"), "calibration": CALIBRATION}
    config = PretrainConfig(
        data=str(data),
        env_kwargs=env_kwargs,
        hyperparams=str(_hyperparams(root, "ppo")),
        epochs=8,
        learning_rate=3e-3,
        output=str(root / "backbone.pt"),
        baselines=("random", "popularity"),
    )
    lines: list[str] = []
    meta = pretrain(config, log=lines.append)
    return {
        "root": root,
        "data": data,
        "config": config,
        "meta": meta,
        "lines": lines,
        "backbone": root / "backbone.pt",
        "env_kwargs": {**env_kwargs, "data_dir": str(data)},
    }


# -- the task: no leakage ---------------------------------------------------------------------


def test_inputs_hold_only_rows_strictly_before_the_target() -> None:
    """Each example's window is the L rows before its target in time order, nothing later."""
    rng = np.random.default_rng(0)
    lengths = {7: 13, 3: 1, 5: 4}
    user = np.concatenate([np.full(n, u) for u, n in lengths.items()])
    rank = np.concatenate([np.arange(n) for n in lengths.values()])
    item = rank + 1  # item id = 1 + position in the user's time order
    time = 1000 + 10 * rank
    level = rank % 3
    shuffle = rng.permutation(user.shape[0])  # rows in any order: sorted by time
    examples = next_item_examples(
        user[shuffle], item[shuffle], time[shuffle], level[shuffle], history_length=4, context_dim=5
    )
    assert examples.n_examples == user.shape[0]
    for row in range(examples.n_examples):
        target, t = int(examples.targets[row]), int(examples.positions[row])
        window = examples.item_ids[row]
        assert target == t + 1
        assert target not in window
        assert (window[window > 0] < target).all()  # only earlier rows
        expected = np.arange(max(0, t - 4), t) + 1
        np.testing.assert_array_equal(window[window > 0], expected)  # newest last
        assert (window[: 4 - expected.shape[0]] == 0).all()  # left padding
        np.testing.assert_array_equal(examples.feedback[row][window > 0], (expected - 1) % 3)
        clicks = int(((np.arange(t) % 3) > 0).sum())
        assert examples.context[row, 0] == pytest.approx(PROGRESS_TABLE[t])
        assert examples.context[row, 1] == pytest.approx(clicks / max(t, 1))
        assert (examples.context[row, 2:] == 0).all()


def test_equal_timestamps_keep_log_order() -> None:
    examples = next_item_examples(
        np.zeros(3, dtype=np.int64),
        np.array([4, 8, 6]),
        np.array([5, 5, 1]),
        np.zeros(3, dtype=np.int64),
        history_length=2,
        context_dim=2,
    )
    np.testing.assert_array_equal(examples.targets, [6, 4, 8])
    np.testing.assert_array_equal(examples.item_ids, [[0, 0], [0, 6], [6, 4]])


def test_evaluation_inputs_match_training_windows() -> None:
    """A prefix scored at evaluation time looks exactly like the training example it ends."""
    item = np.array([5, 9, 2, 7, 1, 3])
    level = np.array([0, 1, 2, 0, 1, 1])
    examples = next_item_examples(
        np.zeros(6, dtype=np.int64), item, np.arange(6), level, history_length=3, context_dim=4
    )
    for t in range(6):
        obs = history_observations([item[:t]], [level[:t]], 3, 4)
        np.testing.assert_array_equal(obs["item_ids"][0], examples.item_ids[t])
        np.testing.assert_array_equal(obs["feedback"][0], examples.feedback[t])
        np.testing.assert_allclose(obs["context"][0], examples.context[t])


def test_training_rows_are_before_the_cut_and_ids_match_the_env(world: dict[str, Any]) -> None:
    facts = env_facts(world["config"])
    examples, counts = training_examples(facts, world["data"])
    log = make_log(n_users=150, n_items=40, seed=0)
    before = log.time < facts.world.cut_time
    assert counts["examples"] == examples.n_examples == int(before.sum())
    # env item id k is the world's raw item_ids[k - 1]: same multiset of items per user
    for user in (1, 2, 3):
        raw = np.sort(log.item[before & (log.user == user)])
        mapped = np.sort(facts.world.item_ids[examples.targets[examples.users == user] - 1])
        np.testing.assert_array_equal(mapped, raw)


# -- pretraining ------------------------------------------------------------------------------


def test_pretraining_lowers_the_loss_and_beats_random(world: dict[str, Any]) -> None:
    meta = world["meta"]
    losses = meta["training"]["epoch_losses"]
    assert len(losses) == 8
    assert losses[-1] < losses[0] - 0.05
    scorers = meta["offline"]["scorers"]
    assert scorers["pretrained"]["protocol"] == "full"
    hr = {name: s["metrics"]["HR@10"]["mean"] for name, s in scorers.items()}
    assert hr["pretrained"] > hr["random"] + 0.2
    groups = scorers["pretrained"]["by_group"]
    assert groups["all users"]["HR@10"] == pytest.approx(hr["pretrained"])
    assert set(groups) <= {"all users", "cold start", "with history"}
    summary = meta["offline"]["data"]
    assert summary["evaluated_users"] == summary["eligible_users"] == scorers["random"]["users"]
    table = "\n".join(world["lines"])
    assert "protocol full" in table and "popularity" in table and "eligible users" in table


def test_backbone_file_and_sidecar(world: dict[str, Any]) -> None:
    path: Path = world["backbone"]
    sidecar = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    assert sidecar["env_id"] == "RecEnv-MovieLens-v0"
    assert sidecar["n_items"] == 40 and sidecar["history_length"] == 10
    assert sidecar["architecture"] == {**TINY_POLICY, "use_item_features": True}
    assert sidecar["data"]["checksum"] and sidecar["data"]["cut_time"] > 0
    weights = torch.load(path, weights_only=True)
    assert set(weights) == {"extractor", "head"}
    assert weights["extractor"]["item_embedding.weight"].shape == (41, 16)
    assert weights["head"]["item_bias"].shape == (1, 40)


# -- --init-from ----------------------------------------------------------------------------


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_init_from_loads_the_backbone(world: dict[str, Any], algo: str) -> None:
    saved = read_backbone(world["backbone"])
    config = TrainConfig(
        algo=algo,
        env_id="RecEnv-MovieLens-v0",
        env_kwargs=world["env_kwargs"],
        hyperparams=str(_hyperparams(world["root"], algo)),
        log_dir=str(world["root"] / "logs"),
        init_from=str(world["backbone"]),
    )
    plan = validate(config)
    model = build_model(plan, make_training_env(plan, 0))
    loaded = init_from_backbone(model, saved)
    policy: Any = model.policy
    if algo == "ppo":
        extractors = [policy.features_extractor]
        heads = [policy.action_net]
        assert policy.pi_features_extractor is policy.features_extractor
        assert loaded == ["features_extractor", "action_net"]
    else:
        extractors = [policy.q_net.features_extractor, policy.q_net_target.features_extractor]
        heads = [policy.q_net.q_net[-1], policy.q_net_target.q_net[-1]]
        assert extractors[0] is not extractors[1]
        assert len(loaded) == 4
    for extractor in extractors:
        for key, value in extractor.state_dict().items():
            torch.testing.assert_close(value, saved.extractor[key], msg=key)
    for head in heads:
        assert isinstance(head, ItemScoringHead)
        for key, value in head.state_dict().items():
            torch.testing.assert_close(value, saved.head[key], msg=key)

    fresh = build_model(plan, make_training_env(plan, 0))
    assert init_from_backbone(fresh, saved, head=False)[-1].endswith("extractor")
    fresh_policy: Any = fresh.policy
    fresh_head = fresh_policy.action_net if algo == "ppo" else fresh_policy.q_net.q_net[-1]
    assert not torch.equal(fresh_head.state_dict()["query.weight"], saved.head["query.weight"])


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_mismatches_are_one_line_errors(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    base = ["--env", "RecEnv-MovieLens-v0", "--log-dir", str(logs), "--no-progress-bar"]
    base += ["--env-kwargs", *(f"{k}={v}" for k, v in world["env_kwargs"].items())]
    backbone = str(world["backbone"])
    wide = str(_hyperparams(tmp_path, "ppo", hidden_dim=32))
    err = _error_line(capsys, [*base, "--hyperparams", wide, "--init-from", backbone])
    assert "hidden_dim=16 but the policy has hidden_dim=32" in err
    err = _error_line(capsys, ["--log-dir", str(logs), "--init-from", backbone])
    assert "pretrained for 40 items but RecEnv-v0 has" in err
    err = _error_line(capsys, [*base, "--init-from", str(tmp_path / "missing.pt")])
    assert "does not exist" in err
    err = _error_line(capsys, [*base, "--policy", "mlp", "--init-from", backbone])
    assert "--policy transformer" in err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(Path(backbone).read_bytes()[:-10])
    sidecar_path(corrupt).write_bytes(sidecar_path(Path(backbone)).read_bytes())
    err = _error_line(capsys, [*base, "--init-from", str(corrupt)])
    assert "checksum" in err
    assert not logs.exists() or not any(logs.rglob("config.yml"))  # nothing was created
    with pytest.raises(ConfigError, match="different catalog"):
        other = {**world["env_kwargs"], "calibration": {**CALIBRATION, "train_fraction": 0.7}}
        validate(
            TrainConfig(
                env_id="RecEnv-MovieLens-v0",
                env_kwargs=other,
                hyperparams=str(_hyperparams(world["root"], "ppo")),
                log_dir=str(logs),
                init_from=backbone,
            )
        )


# -- command lines (tiny budgets) -------------------------------------------------------------


def _run(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        # one torch thread: two would fight over a shared 2-core machine
        env={
            **os.environ,
            "REC_GYM_CACHE": str(cache),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
        },
    )


def test_pretrain_then_train_from_it_on_the_command_line(
    world: dict[str, Any], tmp_path: Path
) -> None:
    calibration = "calibration={" + ", ".join(f"{k}: {v}" for k, v in CALIBRATION.items()) + "}"
    hyperparams = str(_hyperparams(tmp_path, "ppo"))
    output = tmp_path / "b.pt"
    result = _run(
        ["train.py", "--pretrain", str(world["data"]), "--pretrain-epochs", "1",
         "--output", str(output), "--hyperparams", hyperparams, "--env-kwargs", calibration],
        tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "protocol full, negatives 39" in result.stdout
    assert "pretrained" in result.stdout and "popularity" in result.stdout
    assert output.is_file() and sidecar_path(output).is_file()
    result = _run(
        ["train.py", "--env", "RecEnv-MovieLens-v0", "--init-from", str(output),
         "--env-kwargs", f"data_dir={world['data']}", calibration, "--hyperparams", hyperparams,
         "--timesteps", "64", "--eval-episodes", "0", "--no-progress-bar",
         "--log-dir", str(tmp_path / "logs")],
        tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "initialised features_extractor, action_net from" in result.stdout
    (config_file,) = (tmp_path / "logs").rglob("config.yml")
    assert yaml.safe_load(config_file.read_text())["train"]["init_from"] == str(output)
    bad = _run(["train.py", "--pretrain", str(tmp_path / "nowhere")], tmp_path / "cache")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "does not exist" in bad.stderr


def test_benchmark_script_runs_tiny(world: dict[str, Any], tmp_path: Path) -> None:
    calibration = "calibration={" + ", ".join(f"{k}: {v}" for k, v in CALIBRATION.items()) + "}"
    out = tmp_path / "out"
    result = _run(
        ["benchmarks/pretrain_vs_scratch.py", "--tiny", "--data", str(world["data"]),
         "--output", str(out), "--env-kwargs", calibration],
        tmp_path / "cache",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads((out / "pretrain_vs_scratch.json").read_text())
    assert (out / "pretrain_vs_scratch.png").stat().st_size > 0
    assert set(payload["summary"]) == {"scratch", "backbone", "backbone+head"}
    assert len(payload["runs"]) == 9
    assert all(run["steps"] and run["ep_rew_mean"] for run in payload["runs"])
    assert set(payload["plot"]["series"]) == set(payload["summary"])
    assert payload["pretrain_offline"]["pretrained"]["HR@10"] >= 0
    assert "| scratch |" in result.stdout
