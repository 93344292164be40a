"""Claim tests for lesson_regression: the numbers the course prints, what the lessons add beyond the
notes, and how a run that fails says so.

Every run is planned ahead and shared: the --quick runs are the smoke test's too. 01 has no smaller
mode, so its --quick run is the course's whole run; 02's --quick trains the same and only draws
fewer GIF frames (every 100 iterations instead of every 20, by the same code).
"""
import pytest
from PIL import Image

from conftest import lesson_script, plan_runs, run_in_process
from tools.metrics import read_figures

LINEAR = lesson_script("lesson_regression", "01_linear_regression")
LOGISTIC = lesson_script("lesson_regression", "02_logistic_regression")

LINEAR_RUN = (LINEAR, "--quick")
LOGISTIC_QUICK = (LOGISTIC, "--quick")
LINEAR_DIVERGES = (LINEAR, "--lr", "10")
LINEAR_RUNS_OUT = (LINEAR, "--iterations", "5")
LOGISTIC_RUNS_OUT = (LOGISTIC, "--lr", "1000", "--iterations", "100")  # huge weights, accuracy stuck at 93 %
BAD_MOMENTUM = ("-1",)  # one real process; tests/test_tools.py checks the momentum type's whole range
MOMENTUM_REFUSED = {value: (LOGISTIC, "--momentum", value) for value in BAD_MOMENTUM}
# The runs that stop early run inside the test process (run_in_process): no imports to pay again.
plan_runs(LOGISTIC_QUICK, LINEAR_RUN)

GIF_HOLD_MS = 2000  # issue 13: the last frame stays at least 2 s


def succeeded(runner, request):
    run = runner.run(*request)
    assert run.returncode == 0, run.explain()
    return run


@pytest.fixture(scope="module")
def linear(lesson_runner):
    return succeeded(lesson_runner, LINEAR_RUN)


@pytest.fixture(scope="module")
def logistic(lesson_runner):
    return succeeded(lesson_runner, LOGISTIC_QUICK)


def gif_frames(path) -> tuple:
    """(number of frames, duration of the last frame in ms) of a GIF."""
    with Image.open(path) as gif:
        frames = gif.n_frames
        gif.seek(frames - 1)
        return frames, gif.info["duration"]


def assert_failed_in_one_line(run, status: int, *words: str) -> None:
    """Exit `status`, one line on stderr naming `words`, no traceback, no success summary."""
    assert run.returncode == status, run.explain()
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.explain()
    for word in words:
        assert word in run.stderr, run.explain()
    assert "Summary" not in run.stdout, run.explain()


# --- 01_linear_regression ------------------------------------------------------------------------

def test_linear_stops_where_the_course_stops(linear):
    metrics = linear.metrics
    assert metrics["stop_iteration"] == 80
    assert metrics["stop_loss"] < 1.0
    assert metrics["w"] == pytest.approx(2.56, abs=0.02)
    assert metrics["b"] == pytest.approx(1.82, abs=0.02)
    assert "Iteration:   80" in linear.stdout and "Stopped at iteration 80" in linear.stdout
    assert metrics["headline"][:3] == ["stop_iteration", "w", "b"]


def test_linear_stop_rule_leaves_b_far_from_least_squares(linear):
    metrics = linear.metrics
    # least squares on 20 noisy points of y = 2x + 5 lands near the truth ...
    assert metrics["lstsq_w"] == pytest.approx(2.07, abs=0.01)
    assert metrics["lstsq_b"] == pytest.approx(4.80, abs=0.01)
    # ... the loss < 1 rule stops with b nowhere near it ...
    assert metrics["lstsq_b"] - metrics["b"] > 2.5
    # ... and the same loop, kept going, reaches the closed form (at iteration 1525 on the CPU).
    assert 1000 < metrics["converged_iteration"] < 3000
    assert metrics["converged_w"] == pytest.approx(metrics["lstsq_w"], abs=0.01)
    assert metrics["converged_b"] == pytest.approx(metrics["lstsq_b"], abs=0.01)


def test_linear_gif_has_a_frame_every_10_iterations_and_holds_the_last(linear):
    frames, last_ms = gif_frames(linear.out_dir / "training.gif")
    assert frames == 80 // 10 + 1 > 5  # iterations 0, 10, ..., 80
    assert last_ms >= GIF_HOLD_MS
    assert [figure["file"] for figure in read_figures(linear.out_dir)] == ["training.gif", "fit.png"]
    assert (linear.out_dir / "fit.png").is_file()


def test_linear_divergence_is_a_failed_run(tmp_path):
    run = run_in_process(*LINEAR_DIVERGES, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "diverged", "at iteration", "lr 10", "try --lr 0.05")


def test_linear_running_out_of_iterations_is_a_failed_run(tmp_path):
    run = run_in_process(*LINEAR_RUNS_OUT, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "ran out of iterations", "loss < 1", "5 iterations")
    assert "Stopped at" not in run.stdout


# --- 02_logistic_regression ----------------------------------------------------------------------

def test_logistic_stops_where_the_course_stops(logistic):
    """--quick trains exactly as the full run: the course's numbers."""
    metrics = logistic.metrics
    assert metrics["stop_iteration"] == 380
    assert metrics["accuracy"] == pytest.approx(0.995)
    assert metrics["loss"] == pytest.approx(0.049, abs=0.005)
    # 198/200 counted in integers is exactly 0.99, which is not > 0.99: the loop goes on from 260.
    line_260 = next(line for line in logistic.stdout.splitlines() if line.startswith("Iteration:  260"))
    assert "accuracy:  99.00%" in line_260


def test_logistic_line_separates_the_clouds(logistic):
    metrics = logistic.metrics
    w0, w1, b = metrics["w0"], metrics["w1"], metrics["b"]
    # Class 0 sits around (2.7, 2.7), class 1 around (−0.7, −0.7): the model must give class 1
    # (p > 0.5, z > 0) to the second centre only.
    z = lambda x0, x1: w0 * x0 + w1 * x1 + b
    assert z(2.7, 2.7) < 0 < z(-0.7, -0.7)
    assert (logistic.out_dir / "decision_boundary.png").is_file()


def test_logistic_log_odds_are_the_linear_output(logistic):
    """ln[p/(1−p)] = z on the trained model (float64); float32 loses digits of 1 − p near p = 1."""
    metrics = logistic.metrics
    assert metrics["log_odds_max_abs_difference"] <= 1e-4
    assert 1e-4 < metrics["log_odds_max_abs_difference_float32"] < 1e-1
    assert "Log-odds: max |ln[p/(1−p)] − z|" in logistic.stdout


def test_logistic_gif_has_a_frame_per_drawn_check_and_holds_the_last(logistic):
    frames, last_ms = gif_frames(logistic.out_dir / "training.gif")
    assert frames == 380 // 100 + 2  # --quick: iterations 0, 100, 200, 300, and the stop at 380
    assert last_ms >= GIF_HOLD_MS
    assert [figure["file"] for figure in read_figures(logistic.out_dir)] == ["training.gif", "decision_boundary.png"]


def test_logistic_too_large_steps_run_out_of_iterations(tmp_path):
    run = run_in_process(*LOGISTIC_RUNS_OUT, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "ran out of iterations", "never passed 0.99", "loss grew", "try --lr 0.01")


@pytest.mark.parametrize("value", BAD_MOMENTUM)
def test_logistic_refuses_momentum_outside_0_1(tmp_path, value):
    run = run_in_process(*MOMENTUM_REFUSED[value], out_dir=tmp_path)
    assert_failed_in_one_line(run, 2, "--momentum", "[0, 1)", repr(value))
