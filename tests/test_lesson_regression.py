"""Claim tests for lesson_regression: the numbers the course prints, what the lessons add beyond the
notes, the course's knobs as flags, and how a run that fails says so.

Every run is inside this process (run_lesson(..., in_process=True)): the claims are read from the
lesson's own variables after its run, or from what it printed. 01 has no smaller mode, so its
--quick run is the course's whole run; 02's --quick trains the same and only draws fewer GIF frames
(every 100 iterations instead of every 20, by the same code). Tensors of 20 and 200 values are far
below PyTorch's parallel grain: these numbers do not depend on the thread count.
"""
import pytest
from PIL import Image

from conftest import lesson_script, run_lesson
from tools.metrics import read_figures

LINEAR = lesson_script("lesson_regression", "01_linear_regression")
LOGISTIC = lesson_script("lesson_regression", "02_logistic_regression")
GIF_HOLD_MS = 2000  # the last frame stays at least 2 s


@pytest.fixture(scope="module")
def linear():
    run = run_lesson(LINEAR, "--quick", in_process=True)
    assert run.returncode == 0, run.explain()
    return run


@pytest.fixture(scope="module")
def logistic():
    run = run_lesson(LOGISTIC, "--quick", in_process=True)
    assert run.returncode == 0, run.explain()
    return run


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
    lesson = linear.variables
    assert lesson["stop_iteration"] == 80
    assert lesson["stop_loss"] < 1.0
    assert lesson["stop_w"] == pytest.approx(2.56, abs=0.02)
    assert lesson["stop_b"] == pytest.approx(1.82, abs=0.02)
    assert "Iteration:   80" in linear.stdout and "Stopped at iteration 80" in linear.stdout
    # The headline numbers, and only what a reader or the gallery needs, are recorded.
    assert linear.metrics["headline"] == ["stop_iteration", "w", "b", "lstsq_b"]
    assert linear.metrics["w"] == lesson["stop_w"]


def test_linear_stop_rule_leaves_b_far_from_least_squares(linear):
    lesson = linear.variables
    # least squares on 20 noisy points of y = 2x + 5 lands near the truth ...
    assert lesson["lstsq_w"] == pytest.approx(2.07, abs=0.01)
    assert lesson["lstsq_b"] == pytest.approx(4.80, abs=0.01)
    # ... the loss < 1 rule stops with b nowhere near it ...
    assert lesson["lstsq_b"] - lesson["stop_b"] > 2.5
    # ... and the same loop, kept going, reaches the closed form (at iteration 1525 on the CPU).
    assert lesson["converged"] and 1000 < lesson["iteration"] < 3000
    assert lesson["w"].item() == pytest.approx(lesson["lstsq_w"], abs=0.01)
    assert lesson["b"].item() == pytest.approx(lesson["lstsq_b"], abs=0.01)
    # The smallest loss any line reaches on these points, the noise's floor: ½·(18/20)·σ² ≈ 0.45 in
    # expectation (two of the 20 degrees of freedom go to w and b); a stop loss below it never holds.
    x, y = lesson["x"], lesson["y"]
    floor = (0.5 * (y - (lesson["lstsq_w"] * x + lesson["lstsq_b"])) ** 2).mean().item()
    assert floor == pytest.approx(0.46, abs=0.01)
    # A float per iteration is all it keeps of the run: w and b for the figure.
    assert len(lesson["history"]["w"]) == lesson["iteration"] + 1


def test_linear_gif_has_a_frame_every_10_iterations_and_holds_the_last(linear):
    frames, last_ms = gif_frames(linear.out_dir / "training.gif")
    assert frames == 80 // 10 + 1 > 5  # iterations 0, 10, ..., 80
    assert last_ms >= GIF_HOLD_MS
    assert [figure["file"] for figure in read_figures(linear.out_dir)] == ["training.gif", "fit.png"]
    assert (linear.out_dir / "fit.png").is_file()


def test_linear_slope_and_stop_loss_are_the_courses_knobs(tmp_path):
    """The course's homework: another slope, another stop rule (a stop loss under the noise's ~0.45 never holds)."""
    run = run_lesson(LINEAR, "--slope", "3", "--stop-loss", "0.3", "--iterations", "100", in_process=True,
                     out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "ran out of iterations", "loss < 0.3", "100 iterations")
    assert (run.variables["y"] - 3 * run.variables["x"]).mean().item() == pytest.approx(5, abs=0.6)


def test_linear_divergence_is_a_failed_run(tmp_path):
    run = run_lesson(LINEAR, "--lr", "10", in_process=True, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "diverged", "at iteration 8", "lr 10", "try --lr 0.05")


def test_linear_running_out_of_iterations_is_a_failed_run(tmp_path):
    run = run_lesson(LINEAR, "--iterations", "5", in_process=True, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "ran out of iterations", "loss < 1", "5 iterations")
    assert "Stopped at" not in run.stdout


# --- 02_logistic_regression ----------------------------------------------------------------------

def test_logistic_stops_where_the_course_stops(logistic):
    """--quick trains exactly as the full run: the course's numbers."""
    lesson = logistic.variables
    assert lesson["stop_iteration"] == 380
    assert lesson["accuracy"] == pytest.approx(0.995)
    assert lesson["loss"].item() == pytest.approx(0.049, abs=0.005)
    # 198/200 counted in integers is exactly 0.99, which is not > 0.99: the loop goes on from 260.
    line_260 = next(line for line in logistic.stdout.splitlines() if line.startswith("Iteration:  260"))
    assert "accuracy:  99.00%" in line_260
    assert logistic.metrics["headline"] == ["stop_iteration", "accuracy", "log_odds_max_abs_difference"]


def test_logistic_line_separates_the_clouds(logistic):
    w0, w1, b = (logistic.variables[name] for name in ("w0", "w1", "b"))
    # Class 0 sits around (2.7, 2.7), class 1 around (−0.7, −0.7): the model must give class 1
    # (p > 0.5, z > 0) to the second centre only.
    z = lambda x0, x1: w0 * x0 + w1 * x1 + b  # noqa: E731
    assert z(2.7, 2.7) < 0 < z(-0.7, -0.7)
    assert (logistic.out_dir / "decision_boundary.png").is_file()


def test_logistic_log_odds_are_the_linear_output(logistic):
    """ln[p/(1−p)] = z on the trained model (float64); float32 loses digits of 1 − p near p = 1."""
    lesson = logistic.variables
    assert lesson["log_odds_difference"] <= 1e-4
    assert 1e-4 < lesson["float32_difference"] < 1e-1
    assert "Log-odds: max |ln[p/(1−p)] − z|" in logistic.stdout


def test_logistic_is_not_log_linear_regression(logistic):
    """Read as log-linear regression (ln y = z), the same z gives y = e^z, above 1 wherever the model
    says class 1: no probability; the log-odds reading stays inside (0, 1)."""
    lesson = logistic.variables
    z, p = lesson["z"], lesson["p"]
    assert lesson["above_one"] == (z > 0).sum().item() == 99
    assert lesson["log_linear_y"].max().item() > 1e4 and 1e-5 < lesson["log_linear_y"].min().item() < 1e-4
    assert 0 < p.min().item() and p.max().item() < 1
    assert "is > 1 at 99 of 200 points" in logistic.stdout


def test_logistic_gif_has_a_frame_per_drawn_check_and_holds_the_last(logistic):
    frames, last_ms = gif_frames(logistic.out_dir / "training.gif")
    assert frames == 380 // 100 + 2  # --quick: iterations 0, 100, 200, 300, and the stop at 380
    assert last_ms >= GIF_HOLD_MS
    assert [figure["file"] for figure in read_figures(logistic.out_dir)] == ["training.gif", "decision_boundary.png"]


def test_logistic_mean_value_is_the_courses_knob(tmp_path):
    """The course's homework: clouds 5 apart are separated at the very first check."""
    run = run_lesson(LOGISTIC, "--mean-value", "5", "--quick", in_process=True, out_dir=tmp_path)
    assert run.returncode == 0, run.explain()
    assert run.variables["stop_iteration"] == 0 and run.variables["accuracy"] == 1.0
    assert run.variables["x0"].mean().item() == pytest.approx(5 + 1, abs=0.3)  # mean_value + bias


def test_logistic_too_large_steps_run_out_of_iterations(tmp_path):
    run = run_lesson(LOGISTIC, "--lr", "1000", "--iterations", "100", in_process=True, out_dir=tmp_path)
    assert_failed_in_one_line(run, 1, "ran out of iterations", "never passed 0.99", "loss grew", "try --lr 0.01")


@pytest.mark.parametrize("flag, value, words", [("--momentum", "-1", ("[0, 1)",)),
                                                 ("--mean-value", "-1", ("[0, 100]",)),
                                                 ("--bias", "nan", ("[-100, 100]",))])
def test_logistic_refuses_a_knob_out_of_range(tmp_path, flag, value, words):
    run = run_lesson(LOGISTIC, flag, value, in_process=True, out_dir=tmp_path)
    assert_failed_in_one_line(run, 2, flag, repr(value), *words)
