"""Notebooks 00 and 01: the wrong answers students write are named, right ones written another way pass,
and every prediction comes before the cell that shows its answer."""

import math
import re
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils.exercises import EXERCISES, check_exercise
from course_utils.exercises.compare import known_mistakes, number, same_bool
from course_utils.exercises.nb01 import MISTAKES_OF_KAIMING, MISTAKES_OF_XAVIER, SCALE_NS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def misses(name, answer):
    return [line for line in check_exercise(name, answer, verbose=False).feedback if "MISS" in line]


def cells(name):
    return nbformat.read(NOTEBOOKS / name, as_version=4).cells


def first_cell_with(cell_list, text):
    return next(i for i, c in enumerate(cell_list) if text in c.source)


# --- notebook 00 -----------------------------------------------------------------------------------------

def test_all_greater_answered_with_any_is_told_about_any_and_all():
    lines = misses("all_greater", lambda a, b: (a > b).any())
    assert len(lines) == 1 and ".any()" in lines[0] and "all" in lines[0].split(":", 2)[2]
    assert "equal" not in lines[0]


def test_all_greater_with_greater_or_equal_is_told_about_the_equal_element():
    lines = misses("all_greater", lambda a, b: (a >= b).all())
    assert len(lines) == 1 and ">=" in lines[0] and ".any()" not in lines[0]


@pytest.mark.parametrize("answer", [lambda a, b: torch.all(a > b), lambda a, b: not (a <= b).any(),
                                    lambda a, b: bool((a - b > 0).sum() == a.numel())])
def test_all_greater_written_another_way_passes(answer):
    assert check_exercise("all_greater", answer, verbose=False)


def dense_without_bias(x, w, b):
    return [[sum(xi * wi for xi, wi in zip(row, col)) for col in zip(*w)] for row in x]


def test_dense_python_without_the_bias_is_told_the_bias_is_missing():
    lines = misses("dense_python", dense_without_bias)
    assert len(lines) == 3 and all("bias is missing" in line for line in lines), lines


def test_the_matmul_versions_are_numbered_without_a_gap():
    numbers = [int(n) for c in cells("00_matmul_primer.ipynb") if c.cell_type == "markdown"
               for n in re.findall(r"^## Version (\d+)", c.source, flags=re.M)]
    assert numbers == [1, 2, 3, 4, 5]


# --- notebook 01: Kaiming ---------------------------------------------------------------------------------

def test_kaiming_written_as_two_over_sqrt_n_is_told_about_variance_and_square_root():
    lines = misses("kaiming_scale", lambda n: 2 / math.sqrt(n))
    assert len(lines) == 3
    assert all("variance" in line and "square root" in line for line in lines), lines


@pytest.mark.parametrize("answer, named", [(lambda n: 2 / n, "square root"), (lambda n: 1 / math.sqrt(n), "Xavier"),
                                           (lambda n: math.sqrt(1 / (2 * n)), "give it back")])
def test_other_kaiming_mistakes_are_named(answer, named):
    lines = misses("kaiming_scale", answer)
    assert lines and named in lines[0], lines


@pytest.mark.parametrize("answer", [lambda n: (2 / n) ** 0.5, lambda n: math.sqrt(2) / math.sqrt(n),
                                    lambda n: torch.tensor(2.0 / n).sqrt()])
def test_kaiming_written_another_way_passes(answer):
    assert check_exercise("kaiming_scale", answer, verbose=False)


@pytest.mark.parametrize("name, answer, named", [
    ("xavier_scale", lambda n: 1 / n, "variance"), ("xavier_scale", lambda n: math.sqrt(n), "divide"),
    ("kaiming_scale", lambda n: 2 / n, "2/n_in")])
def test_a_variance_or_growth_for_a_scale_is_named_at_every_size(name, answer, named):
    lines = misses(name, answer)
    assert len(lines) == len(SCALE_NS) and all(named in line for line in lines), lines
    assert not any("doubles" in line for line in lines), lines


@pytest.mark.parametrize("name, answer", [("kaiming_scale", lambda n: math.sqrt(2 / (n + 50))),
                                          ("kaiming_scale", lambda n: math.sqrt(2 / (n + 100))),
                                          ("xavier_scale", lambda n: math.sqrt(2 / (n + 50)))])
def test_an_unknown_scale_formula_gets_no_mistake_named(name, answer):
    lines = misses(name, answer)
    assert lines and all(line.count(":") == 1 and "expected" in line for line in lines), lines   # no ": meaning"


@pytest.mark.parametrize("right, wrong", [(lambda n: 1 / math.sqrt(n), MISTAKES_OF_XAVIER),
                                          (lambda n: math.sqrt(2 / n), MISTAKES_OF_KAIMING)])
def test_the_scale_sizes_tell_every_formula_from_every_other(right, wrong):
    formulas = [right] + [formula for formula, _ in wrong]
    for n in SCALE_NS:
        values = sorted(f(n) for f in formulas)
        assert all(not math.isclose(a, b, rel_tol=1e-3) for a, b in zip(values, values[1:])), n


def test_the_kaiming_scale_is_not_given_before_its_exercise():
    nb = cells("01_initialization.ipynb")
    before = "\n".join(c.source for c in nb[:first_cell_with(nb, "def kaiming_scale")])
    for giveaway in ("twice the variance", "sqrt{2/n", "sqrt(2/n", "2/n_{in}"):
        assert giveaway not in before, giveaway


# --- notebook 01: predictions -----------------------------------------------------------------------------

@pytest.mark.parametrize("guess, named", [("inf", "inf - inf"), ("numbers", "float32"), (0, "grow")])
def test_a_wrong_overflow_prediction_says_what_it_missed(guess, named):
    lines = misses("overflow_corner", guess)
    assert len(lines) == 1 and "nan" in lines[0] and named in lines[0], lines


@pytest.mark.parametrize("guess", ["nan", " NaN", float("nan"), math.nan])
def test_nan_predicted_as_a_word_or_a_float_passes(guess):
    assert check_exercise("overflow_corner", guess, verbose=False)


def test_an_unknown_outcome_lists_the_choices():
    assert '"inf"' in misses("overflow_corner", "huge")[0]


def test_predicting_distinct_units_after_equal_weights():
    assert check_exercise("constant_init_units", 1, verbose=False)
    assert check_exercise("constant_init_units", 1.0, verbose=False)
    line = misses("constant_init_units", 50)[0]
    assert "same gradient" in line and "random" in line
    assert "whole number" in misses("constant_init_units", "one")[0]


@pytest.mark.parametrize("guess, named", [(0.5**50, "mean square"), (0.58**50, "sqrt(2)"), (1.0, "halves")])
def test_a_wrong_xavier_relu_prediction_names_the_mean_square(guess, named):
    lines = misses("std_xavier_relu", guess)
    assert len(lines) == 1 and named in lines[0], lines


def test_the_mean_square_argument_predicts_xavier_with_relu():
    assert check_exercise("std_xavier_relu", 2.0**-25, verbose=False)
    assert check_exercise("std_xavier_relu", 1e-8, verbose=False)


@pytest.mark.parametrize("check, reveal", [
    ('check_exercise("constant_init_units"', "torch.full((100, 50), 0.1"),
    ('check_exercise("overflow_corner"', "deep_stack(scale=1.0)"),
    ('check_exercise("std_after_50_layers"', "layer_stds(0.2)[-1]"),
    ('check_exercise("std_xavier_relu"', "deep_stack(scale=xavier_scale(100), activation=torch.relu)")])
def test_each_prediction_is_checked_before_the_cell_that_shows_the_answer(check, reveal):
    nb = [c for c in cells("01_initialization.ipynb") if c.cell_type == "code"]
    assert first_cell_with(nb, check) < first_cell_with(nb, reveal)
    assert all(EXERCISES[name].kind == "predict" for name in ("constant_init_units", "overflow_corner"))


@pytest.mark.parametrize("check, giveaways", [('check_exercise("overflow_corner"', ("overflow", "`nan`")),
                                             ('check_exercise("std_xavier_relu"', ("dies", "vanish"))])
def test_no_heading_or_intro_gives_a_prediction_away(check, giveaways):
    nb = cells("01_initialization.ipynb")
    before = "\n".join(c.source for c in nb[:first_cell_with(nb, check)] if c.cell_type == "markdown")
    assert not [word for word in giveaways if word in before]


def test_the_summary_ends_with_the_questionnaire_line_and_the_appendix_comes_last():
    nb = [c for c in cells("01_initialization.ipynb") if c.cell_type == "markdown"]
    headings = [line for c in nb for line in c.source.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Summary", "## Appendix: the chapter's numbers, reproduced"]
    summary = nb[first_cell_with(nb, "## Summary")].source.strip()
    assert summary.splitlines()[-1].startswith("**Questionnaire questions")


# --- the generic helper -----------------------------------------------------------------------------------

def test_known_mistakes_match_bools_numbers_and_one_element_tensors():
    compare = known_mistakes(same_bool, ((True, "meant any"),))
    assert compare(torch.tensor(True), False).endswith(": meant any")
    assert compare(False, False) is None
    two = known_mistakes(number, ((2.0, "doubled"),))
    assert two(torch.tensor(2.0), 1.0).endswith(": doubled") and two(3.0, 1.0) == "returned 3; expected 1"
