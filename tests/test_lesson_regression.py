"""Claim tests for lesson_regression: the numbers the course prints, and what the lesson adds."""
import pytest
from PIL import Image

from conftest import lesson_script, plan_runs

LINEAR = lesson_script("lesson_regression", "01_linear_regression")
LOGISTIC = lesson_script("lesson_regression", "02_logistic_regression")
plan_runs((LINEAR,), (LOGISTIC,))


@pytest.fixture(scope="module")
def default_runs(lesson_runner):
    """Both lessons at default settings, side by side: the course's loops are short, so the claims
    are checked at full size."""
    runs = lesson_runner.run_many([(LINEAR,), (LOGISTIC,)])
    for run in runs:
        assert run.returncode == 0, run.explain()
    return runs


@pytest.fixture(scope="module")
def linear(default_runs):
    return default_runs[0]


@pytest.fixture(scope="module")
def logistic(default_runs):
    return default_runs[1]


def test_linear_stops_where_the_course_stops(linear):
    metrics = linear.metrics
    assert metrics["stop_iteration"] == 80
    assert metrics["final_loss"] < 1.0
    assert metrics["w"] == pytest.approx(2.56, abs=0.02)
    assert metrics["b"] == pytest.approx(1.82, abs=0.02)


def test_linear_stop_rule_leaves_b_far_from_least_squares(linear):
    metrics = linear.metrics
    # least squares on 20 noisy points of y = 2x + 5 lands near the truth ...
    assert metrics["lstsq_w"] == pytest.approx(2.0, abs=0.2)
    assert metrics["lstsq_b"] == pytest.approx(5.0, abs=0.5)
    # ... the loss < 1 rule stops with b nowhere near it ...
    assert metrics["lstsq_b"] - metrics["b"] > 2.5
    # ... and training on reaches the closed form.
    assert metrics["converged_iteration"] is not None
    assert metrics["converged_w"] == pytest.approx(metrics["lstsq_w"], abs=0.01)
    assert metrics["converged_b"] == pytest.approx(metrics["lstsq_b"], abs=0.01)


def test_linear_writes_gif_of_every_logged_iteration(linear):
    with Image.open(linear.out_dir / "training.gif") as gif:
        assert gif.n_frames == linear.metrics["stop_iteration"] // 20 + 1  # iterations 0, 20, ..., 80
    assert (linear.out_dir / "fit.png").is_file()
    assert "Iteration:   80" in linear.stdout


def test_logistic_stops_where_the_course_stops(logistic):
    metrics = logistic.metrics
    assert metrics["stop_iteration"] == 380
    assert metrics["accuracy"] == pytest.approx(0.995)
    assert metrics["loss"] == pytest.approx(0.049, abs=0.005)


def test_logistic_line_separates_the_clouds(logistic):
    metrics = logistic.metrics
    w0, w1, b = metrics["w0"], metrics["w1"], metrics["b"]
    # Class 0 sits around (2.7, 2.7), class 1 around (−0.7, −0.7): the model must give class 1
    # (p > 0.5, z > 0) to the second centre only.
    z = lambda x0, x1: w0 * x0 + w1 * x1 + b
    assert z(2.7, 2.7) < 0 < z(-0.7, -0.7)
    with Image.open(logistic.out_dir / "training.gif") as gif:
        assert gif.n_frames == 380 // 20 + 1
    assert (logistic.out_dir / "decision_boundary.png").is_file()


def test_quick_runs_reach_the_same_stop(quick_runs):
    """--quick trims only the extras: the course's loops stop at the same place."""
    assert quick_runs[LINEAR].metrics["stop_iteration"] == 80
    assert quick_runs[LOGISTIC].metrics["stop_iteration"] == 380
