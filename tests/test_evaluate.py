"""``evaluate.py`` end to end (issue 5) and its input validation (issue 7).

One tiny PPO run (with context normalisation, so the frozen-statistics path is exercised)
is trained in-process once per module and evaluated many ways; ``evaluate.py`` itself runs
as a subprocess once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rec_gym  # noqa: F401  (registers the env ids)
from agents.baselines import make_baseline
from agents.eval_runner import (
    EvalOptions,
    NormalizedSB3Recommender,
    evaluate_vectorized,
    load_agent,
    main,
    make_vector_env,
    prepare,
    run,
)
from agents.evaluation import evaluate
from agents.runner import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ENV_KWARGS: dict[str, Any] = {"n_items": 30}
TINY_PPO = {
    "default": {
        "n_envs": 2,
        "n_steps": 64,
        "batch_size": 64,
        "n_epochs": 1,
        "normalize": True,
        "transformer_policy": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2},
    }
}


def _tiny_run(folder: Path, env_id: str = "RecEnv-v0", **env_kwargs: Any) -> Path:
    hyper = folder / "ppo.yml"
    folder.mkdir(parents=True, exist_ok=True)
    hyper.write_text(yaml.safe_dump(TINY_PPO), encoding="utf-8")
    config = TrainConfig(
        env_id=env_id, env_kwargs=env_kwargs, total_timesteps=256, seed=1,
        hyperparams=str(hyper), log_dir=str(folder / "logs"), checkpoint_interval=128,
        metrics_interval=32, eval_episodes=0, progress_bar=False,
    )  # fmt: skip
    return train(config)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Any:
    """Batch-of-one inference is much faster single-threaded (as evaluate.py runs it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished train.py run folder (PPO, transformer, normalised context, 30 items)."""
    return _tiny_run(tmp_path_factory.mktemp("run"), **ENV_KWARGS)


@pytest.fixture(scope="module")
def online_report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """results.json of ``evaluate.py RUN`` over 200 episodes with three reference baselines."""
    output = tmp_path_factory.mktemp("eval")
    assert main([str(run_dir), "--baselines", "random,myopic,anti", "--episodes", "200",
                 "--output", str(output)]) == 0  # fmt: skip
    report = json.loads((output / "results.json").read_text())
    report["_output"] = str(output)
    return report


# -- acceptance 1: ordering and reproducibility --------------------------------------------


def test_oracle_beats_random_beats_anti_with_separated_intervals(
    online_report: dict[str, Any],
) -> None:
    policies = online_report["policies"]
    assert online_report["episodes"] == 200
    returns = {name: policies[name]["metrics"]["return"] for name in ("myopic", "random", "anti")}
    assert returns["myopic"]["low"] > returns["random"]["high"], returns
    assert returns["random"]["low"] > returns["anti"]["high"], returns
    for entry in policies.values():
        assert set(entry["metrics"]) == {
            "return", "ctr", "purchase_rate", "session_length", "leave_rate", "regret",
            "catalog_coverage", "intra_list_diversity", "novelty", "exposure_gini",
        }  # fmt: skip
        for interval in entry["metrics"].values():
            assert interval["low"] <= interval["mean"] <= interval["high"], interval
    assert policies["myopic"]["metrics"]["regret"]["mean"] == pytest.approx(0.0, abs=1e-9)


def test_same_seed_reproduces_the_agent_numbers_through_the_cli(
    run_dir: Path, tmp_path: Path
) -> None:
    """``python evaluate.py RUN`` (a subprocess) twice-run: same seed, same agent numbers."""
    args = [str(run_dir), "--baselines", "none", "--episodes", "40", "--seed", "77"]
    assert main([*args, "--output", str(tmp_path / "first")]) == 0
    result = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), *args, "--output", str(tmp_path / "again")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    first, again = (
        json.loads((tmp_path / name / "results.json").read_text()) for name in ("first", "again")
    )
    agent = first["agent"]
    assert again["agent"] == agent == "ppo-transformer"
    assert again["policies"][agent]["metrics"] == first["policies"][agent]["metrics"]
    assert first["policies"][agent]["steps"] > 40
    assert "means ± 95% CI" in result.stdout and agent in result.stdout


def test_report_records_env_seed_determinism_and_frozen_normalisation(
    run_dir: Path, online_report: dict[str, Any]
) -> None:
    saved = yaml.safe_load((run_dir / "config.yml").read_text())
    assert online_report["env"]["id"] == "RecEnv-v0"
    assert online_report["env"]["config"] == saved["env"]["config"]
    assert online_report["env"]["config"]["n_items"] == 30
    assert online_report["deterministic"] is True
    assert online_report["seed"] == 1_000_000
    assert online_report["source"]["verified"] is True
    assert online_report["source"]["reason"] == "final"
    normalization = online_report["normalization"]
    assert normalization["frozen"] is True and normalization["keys"] == ["context"]
    markdown = (Path(online_report["_output"]) / "results.md").read_text()
    assert "| ppo-transformer |" in markdown and "deterministic=True" in markdown


def test_normalised_agent_is_frozen_and_returns_are_raw_rewards(run_dir: Path) -> None:
    prepared = prepare(EvalOptions(target=str(run_dir), baselines=()), warn=print)
    assert prepared.env_factory is not None and prepared.source is not None
    agent = load_agent(prepared.source, prepared.env_factory, deterministic=True)
    assert isinstance(agent, NormalizedSB3Recommender)
    normalizer = agent.normalizer
    assert normalizer.training is False and normalizer.norm_reward is False
    mean_before = normalizer.obs_rms["context"].mean.copy()
    result = evaluate(prepared.env_factory, agent, n_episodes=5, seed=3)
    np.testing.assert_array_equal(normalizer.obs_rms["context"].mean, mean_before)
    for record in result.episodes:  # default reward: 1 per click, 2 per purchase
        assert record.episode_return == pytest.approx(record.clicks + 2 * record.purchases)
    obs, _ = prepared.env_factory().reset(seed=0)
    normalised = agent.normalize(obs)
    np.testing.assert_array_equal(normalised["item_ids"], obs["item_ids"])
    expected = (obs["context"] - mean_before) / np.sqrt(
        normalizer.obs_rms["context"].var + normalizer.epsilon
    )
    np.testing.assert_allclose(normalised["context"], np.clip(expected, -10, 10), rtol=1e-5)


@pytest.mark.parametrize("deterministic", [True, False])
def test_deterministic_flag_reaches_every_prediction(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deterministic: bool
) -> None:
    from stable_baselines3 import PPO

    seen: list[bool] = []
    original = PPO.predict

    def spy(self: Any, observation: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["deterministic"])
        return original(self, observation, *args, **kwargs)

    monkeypatch.setattr(PPO, "predict", spy)
    flag = "--deterministic" if deterministic else "--no-deterministic"
    args = [str(run_dir), flag, "--baselines", "none", "--episodes", "3", "--bootstrap", "0"]
    for n_envs in ("1", "2"):
        output = tmp_path / n_envs
        assert main([*args, "--n-envs", n_envs, "--output", str(output)]) == 0
        report = json.loads((output / "results.json").read_text())
        assert report["deterministic"] is deterministic
    assert len(seen) > 6 and set(seen) == {deterministic}


# -- acceptance 2: vector envs ---------------------------------------------------------------


class _CountSteps(gym.Wrapper[Any, Any, Any, Any]):
    """Counts the transitions a single env really takes."""

    total = 0

    def step(self, action: Any) -> Any:
        type(self).total += 1
        return super().step(action)


def test_vector_env_counts_no_phantom_reset_steps() -> None:
    """Fixed-length sessions: episodes x length == counted steps == real env steps."""
    length, n_envs, episodes = 7, 3, 9
    kwargs: dict[str, Any] = {"n_items": 40, "leave_base_prob": 0.0, "leave_sensitivity": 0.0}
    _CountSteps.total = 0
    envs = gym.vector.SyncVectorEnv(
        [lambda: _CountSteps(gym.make("RecEnv-v0", max_episode_steps=length, **kwargs))] * n_envs
    )
    vector = evaluate_vectorized(envs, make_baseline("myopic", seed=0), episodes, seed=5)
    assert [r.length for r in vector.result.episodes] == [length] * episodes
    assert vector.counted_steps == episodes * length == _CountSteps.total
    single = evaluate(
        lambda: gym.make("RecEnv-v0", max_episode_steps=length, **kwargs),
        make_baseline("myopic", seed=0),
        episodes,
        seed=5,
    )
    assert vector.result.metrics["ctr"].mean == single.metrics["ctr"].mean


@pytest.mark.parametrize("mode", ["sync", "vector_entry_point"])
def test_vector_env_matches_single_env_with_the_same_seeds(mode: str) -> None:
    """Variable-length sessions on n envs meet the same users as one env, episode by episode."""
    episodes, seed = 23, 11  # not a multiple of n_envs: some sub-envs idle and autoreset
    kwargs: dict[str, Any] = {"n_items": 50}
    envs = gym.make_vec("RecEnv-v0", num_envs=4, vectorization_mode=mode, **kwargs)
    vector = evaluate_vectorized(envs, make_baseline("myopic", seed=0), episodes, seed)
    single = evaluate(
        lambda: gym.make("RecEnv-v0", **kwargs), make_baseline("myopic", seed=0), episodes, seed
    )
    assert vector.counted_steps == sum(r.length for r in vector.result.episodes)
    assert vector.autoreset_steps >= 1  # NEXT_STEP autoresets happened and were not counted
    assert [r.seed for r in vector.result.episodes] == list(range(seed, seed + episodes))
    for got, want in zip(vector.result.episodes, single.episodes, strict=True):
        assert (got.length, got.clicks, got.purchases) == (want.length, want.clicks, want.purchases)
    assert vector.result.metrics["ctr"].mean == single.metrics["ctr"].mean


def test_vector_env_agent_matches_single_env(run_dir: Path) -> None:
    prepared = prepare(EvalOptions(target=str(run_dir), baselines=()), warn=print)
    assert prepared.env_factory is not None and prepared.source is not None
    agent = load_agent(prepared.source, prepared.env_factory, deterministic=True)
    single = evaluate(prepared.env_factory, agent, n_episodes=10, seed=2)
    envs = make_vector_env("RecEnv-v0", prepared.env_kwargs, n_envs=3)
    vector = evaluate_vectorized(envs, agent, n_episodes=10, seed=2)
    assert vector.counted_steps == sum(r.length for r in single.episodes)
    assert vector.result.metrics["ctr"].mean == single.metrics["ctr"].mean
    assert vector.result.metrics["return"].mean == single.metrics["return"].mean


# -- acceptance 5: plots ------------------------------------------------------------------------


def test_pngs_exist_and_plot_the_reported_numbers(
    run_dir: Path, online_report: dict[str, Any]
) -> None:
    output = Path(online_report["_output"])
    plots = online_report["plots"]
    for name in ("metrics.png", "learning_curves.png"):
        data = (output / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    series = plots["metrics"]["series"]
    for name, entry in online_report["policies"].items():
        for metric, interval in entry["metrics"].items():
            plotted = series[metric][name]
            assert plotted == pytest.approx({k: interval[k] for k in ("mean", "low", "high")})
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    curves = plots["learning_curves"]["series"]
    assert set(curves) == {"rollout/ep_rew_mean", "rec/ctr"}
    for tag, drawn in curves.items():
        events = accumulator.Scalars(tag)
        assert drawn["steps"] == [float(e.step) for e in events]
        assert drawn["values"] == pytest.approx([e.value for e in events])


# -- model path mode ----------------------------------------------------------------------------


def test_model_inside_run_folder_uses_its_config(run_dir: Path, tmp_path: Path) -> None:
    checkpoint = sorted((run_dir / "checkpoints").glob("step_*/model.zip"))[0]
    report = run(
        EvalOptions(target=str(checkpoint), baselines=(), episodes=2, output=str(tmp_path))
    )
    assert report["env"]["config"]["n_items"] == 30
    assert report["source"]["step"] == 128 and report["source"]["verified"] is True


def test_bare_model_needs_env_and_its_keywords(run_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.zip"
    shutil.copy(run_dir / "model.zip", bare)
    report = run(
        EvalOptions(
            target=str(bare),
            env_id="RecEnv-v0",
            env_kwargs=dict(ENV_KWARGS),
            baselines=(),
            episodes=2,
            output=str(tmp_path / "out"),
        )  # fmt: skip
    )
    assert report["source"]["verified"] is False and report["normalization"] is None
    assert report["agent"] == "ppo"
    assert report["plots"]["learning_curves"]["file"] is None


# -- issue 7: bad input -------------------------------------------------------------------------


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err
    assert lines and lines[-1].startswith("error: "), captured.err
    return lines[-1]


def test_bad_inputs_fail_with_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(run_dir)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    (tmp_path / "empty").mkdir()
    bare = tmp_path / "bare.zip"
    shutil.copy(run_dir / "model.zip", bare)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes((run_dir / "model.zip").read_bytes()[:3000])
    cases = [
        ([str(tmp_path / "nope")], ["does not exist", "run folder"]),
        ([str(tmp_path / "empty")], ["not a run folder", "config.yml"]),
        ([run, "--baselines", "random,popularty"], ["'popularty'", "did you mean 'popularity'"]),
        ([run, "--episodes", "0"], ["--episodes must be a positive integer"]),
        ([run, "--episodes", "-3"], ["--episodes must be a positive integer"]),
        ([run, "--env-kwargs", "n_items=nan"], ["n_items must be a finite number"]),
        ([run, "--env-kwargs", "n_items=50"], ["conflicts with the run's n_items=30"]),
        ([run, "--env", "RecEnv-Slate-v0"], ["conflicts with the run's env RecEnv-v0"]),
        ([run, "--output", str(blocker / "out")], ["not writable", "--output"]),
        ([str(bare)], ["--env"]),
        ([str(bare), "--env", "RecEnv-v0"], ["Discrete(30)", "Discrete(200)"]),
        ([str(truncated), "--env", "RecEnv-v0"], [str(truncated), "truncated or corrupted"]),
        ([str(blocker)], ["not a model .zip"]),
        (["--offline", str(tmp_path / "nodata")], ["no such file or folder"]),
        (["--offline", str(tmp_path), "--negatives", "5"], ["--protocol sampled"]),
        (["--offline", str(tmp_path), "--train-fraction", "nan"], ["finite number"]),
        ([], ["pass a run folder"]),
        (["--offline", str(tmp_path), "--env", "RecEnv-v0"], ["--env", "drop them"]),
        ([run, "--train-fraction", "0.5"], ["--offline evaluation only"]),
        ([run, "--torch-threads", "0"], ["--torch-threads must be a positive integer"]),
    ]
    outputs_before = set(run_dir.iterdir())
    for argv, fragments in cases:
        line = _error_line(capsys, [*argv, "--episodes", "1"] if "--episodes" not in argv else argv)
        for fragment in fragments:
            assert fragment in line, (argv, line)
    assert set(run_dir.iterdir()) == outputs_before  # nothing written on bad input


def test_corrupted_final_model_falls_back_to_previous_checkpoint(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    model = copy / "model.zip"
    model.write_bytes(model.read_bytes()[:-100])  # truncated
    output = tmp_path / "out"
    assert main([str(copy), "--baselines", "none", "--episodes", "2", "--output", str(output)]) == 0
    err = capsys.readouterr().err
    assert f"checkpoint file {model} is truncated or corrupted" in err
    assert "falling back to the previous checkpoint (step 256, periodic)" in err
    report = json.loads((output / "results.json").read_text())
    assert report["source"]["file"].endswith("checkpoints/step_000000256/model.zip")
    # An explicitly named corrupted model is an error naming the file, not a fallback.
    line = _error_line(capsys, [str(model), "--episodes", "1"])
    assert str(model) in line and "corrupted" in line
    # With every checkpoint corrupted there is nothing to fall back to.
    for path in copy.glob("checkpoints/*/model.zip"):
        path.write_bytes(b"garbage")
    line = _error_line(capsys, [str(copy), "--episodes", "1"])
    assert "no valid checkpoint" in line


def test_help_warns_about_untrusted_models(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "untrusted sources" in text and "pickle" in text


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        main([str(tmp_path / "nope"), "--debug"])


# -- offline through the CLI ----------------------------------------------------------------------


def test_offline_cli_scores_a_movielens_agent_and_baselines(
    tmp_path: Path, shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shared_data_dir / "ml-100k"
    monkeypatch.setenv("REC_GYM_CACHE", str(tmp_path / "cache"))
    calibration = {"n_simulated_users": 100, "mf_iterations": 3, "latent_dim": 4}  # fast
    movielens_run = _tiny_run(
        tmp_path, "RecEnv-MovieLens-v0", data_dir=str(data), calibration=calibration
    )
    output = tmp_path / "offline"
    args = [
        str(movielens_run), "--offline", str(data), "--baselines", "popularity,mf",
        "--protocol", "sampled", "--negatives", "50", "--seed", "4", "--output", str(output),
    ]  # fmt: skip
    assert main(args) == 0
    report = json.loads((output / "results.json").read_text())
    label = {k: report[k] for k in ("protocol", "negatives", "negative_kind", "seed")}
    assert label == {
        "protocol": "sampled", "negatives": 50, "negative_kind": "uniform non-interacted",
        "seed": 4,
    }  # fmt: skip
    assert set(report["scorers"]) == {"ppo-transformer", "popularity", "mf"}
    summary = report["data"]
    assert summary["evaluated_users"] == summary["eligible_users"] > 0
    assert (
        summary["eligible_users"] + sum(summary["not_eligible_users"].values())
        == (summary["users_with_heldout_interactions"])
    )
    for scorer in report["scorers"].values():
        assert scorer["users"] == summary["eligible_users"]
        assert scorer["protocol"] == "sampled" and scorer["negatives"] == 50
        assert 0.0 <= scorer["metrics"]["HR@10"]["mean"] <= 1.0
    assert (output / "offline_metrics.png").is_file()
    # The agent can score only the data its env was calibrated from.
    status = main([str(movielens_run), "--offline", str(shared_data_dir / "ml-latest-small")])
    assert status == 2
