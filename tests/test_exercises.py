"""check_exercise passes every reference, fails wrong answers with a reason, gives hints late, never crashes."""

import inspect
import sys

import pytest
import torch

from course_utils.exercises import EXERCISES, check_exercise
from course_utils.exercises.compare import fmt
from course_utils.exercises.core import Case, Exercise


def functions():
    return [name for name, ex in EXERCISES.items() if ex.kind != "predict"]


def misses(result):
    return [line for line in result.feedback if "MISS" in line]


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_reference_passes(name, capsys):
    result = check_exercise(name, EXERCISES[name].solution())
    assert result, result.feedback
    assert "MISS" not in capsys.readouterr().out


def test_each_notebook_00_to_02_has_three_exercises_and_every_record_is_complete():
    for notebook in ("00", "01", "02"):
        assert sum(ex.notebook == notebook for ex in EXERCISES.values()) >= 3, notebook
    for ex in EXERCISES.values():
        assert ex.description and ex.hint and ex.kind in ("function", "fix", "predict")
        assert len(ex.cases()) >= 1


@pytest.mark.parametrize("name", functions())
def test_identity_and_a_crash_fail_with_a_reason(name):
    identity = check_exercise(name, lambda *args: args[0], verbose=False)
    assert not identity and misses(identity)
    assert all(line.split(": ", 1)[1] for line in misses(identity))

    def crash(*args):
        return args[0].no_such_method()

    crashed = check_exercise(name, crash, verbose=False)
    assert not crashed
    # a class exercise turns a function away before calling it
    assert any("raised AttributeError" in line or "expected a class" in line for line in crashed.feedback), \
        crashed.feedback


@pytest.mark.parametrize("name", ["lin", "relu", "neuron", "mse", "mean_square", "matmul_einsum"])
def test_off_by_a_little_fails_and_names_the_values(name):
    ref = EXERCISES[name].solution()
    result = check_exercise(name, lambda *args: ref(*args) + 1e-2, verbose=False)
    assert not result
    assert any("expected" in line or "instead of" in line for line in misses(result)), result.feedback


def test_equal_shapes_with_wrong_values_say_the_shape_is_right():
    ref = EXERCISES["lin"].solution()
    result = check_exercise("lin", lambda x, w, b: ref(x, w, b) * 2, verbose=False)
    line = misses(result)[0]
    assert "(4, 2) is right" in line and "values differ" in line
    assert "expected shape" not in line


def test_a_wrong_shape_names_both_shapes():
    result = check_exercise("lin", lambda x, w, b: (x @ w + b).t(), verbose=False)
    assert all(s in misses(result)[0] for s in ("(2, 4)", "(4, 2)"))


def test_a_wrong_dtype_with_right_values_is_named():
    result = check_exercise("relu", lambda x: x.clamp_min(0).long(), verbose=False)
    assert not result
    assert any("dtype is torch.int64" in line for line in result.feedback), result.feedback


def test_the_n1_minus_n_broadcast_gets_its_named_hint():
    result = check_exercise("mse", lambda out, targ: (out - targ).pow(2).mean(), verbose=False)
    assert not result
    assert sum("(N, 1) minus (N,)" in line for line in result.feedback) == 2   # every case but the batch of 1
    # the same mistake returning the (N, N) difference itself
    shaped = check_exercise("relu", lambda x: x[:, None] - x if x.dim() == 1 else x.clamp_min(0), verbose=False)
    assert shaped.passed == 4   # no 1-D case of size > 1 in relu: nothing to flag
    case = Case("(3, 1) - (3,)", (torch.ones(3, 1), torch.ones(3)), torch.zeros(3))
    assert "(N, 1) minus (N,)" in case.problem(lambda a, b: a - b)


def test_an_exit_in_student_code_is_reported_but_ctrl_c_still_stops():
    result = check_exercise("relu", lambda x: sys.exit(1), verbose=False)
    assert not result and "exit()" in result.feedback[0]

    def interrupted(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_exercise("relu", interrupted, verbose=False)


def test_dense_python_rejects_torch_and_accepts_plain_loops():
    def with_torch(x, w, b):
        return (torch.tensor(x) @ torch.tensor(w) + torch.tensor(b)).tolist()

    result = check_exercise("dense_python", with_torch, verbose=False)
    assert not result and "uses @, torch" in result.feedback[0]
    assert result.passed == 3   # the numbers are right; only the rule fails

    def tensors_inside(x, w, b):
        return [[torch.tensor(v) for v in row] for row in _dense_loops(x, w, b)]

    assert "expected plain Python floats" in misses(check_exercise("dense_python", tensors_inside, verbose=False))[1]
    assert check_exercise("dense_python", _dense_loops, verbose=False)


def _dense_loops(x, w, b):
    """A loop answer written differently from the reference; a comment saying torch must not trip the rule."""
    out = []
    for row in x:
        out.append([sum(row[k] * w[k][j] for k in range(len(row))) + b[j] for j in range(len(b))])
    return out


def test_matmul_einsum_rejects_the_at_operator():
    def at(a, b):
        return a @ b

    result = check_exercise("matmul_einsum", at, verbose=False)
    assert not result and "never calls einsum" in result.feedback[0]
    assert result.passed == result.total - 1

    def named_only(a, b):
        einsum = "einsum"  # a name, a string and a comment saying einsum are not a call to it
        return a @ b if einsum else None

    assert "never calls einsum" in check_exercise("matmul_einsum", named_only, verbose=False).feedback[0]


def test_a_rule_on_source_code_explains_when_the_source_is_unavailable():
    result = check_exercise("matmul_einsum", torch.matmul, verbose=False)
    assert not result and "source code cannot be read" in result.feedback[0]


def test_a_neuron_returning_a_python_float_passes():
    assert check_exercise("neuron", lambda x, w, b: float((x * w).sum() + b), verbose=False)
    assert check_exercise("neuron", lambda x, w, b: sum(float(a * c) for a, c in zip(x, w)) + b, verbose=False)


def test_values_print_with_a_few_significant_digits():
    result = check_exercise("to_python", lambda t: t.item() / 3, verbose=False)
    line = misses(result)[0]
    assert "returned 0.8333; expected 2.5" in line


def test_predictions_are_judged_by_order_of_magnitude():
    actual = EXERCISES["std_after_50_layers"].solution()
    assert check_exercise("std_after_50_layers", actual * 5, verbose=False)
    assert check_exercise("std_after_50_layers", actual / 5, verbose=False)
    far = check_exercise("std_after_50_layers", 1.0, verbose=False)
    assert not far and "too small" in far.feedback[0]
    empty = check_exercise("std_after_50_layers", None, verbose=False)
    assert not empty and "no prediction yet" in empty.feedback[0]
    assert check_exercise("broadcast_shape", torch.Size([4, 3]), verbose=False)
    assert "it is (4, 3)" in check_exercise("broadcast_shape", (4, 1), verbose=False).feedback[0]


def test_the_hint_comes_on_the_second_failed_try_and_never_holds_the_solution():
    first = check_exercise("relu", lambda x: x, verbose=False)
    assert not any("hint" in line for line in first.feedback)
    second = check_exercise("relu", lambda x: x, verbose=False)
    assert second.feedback[-1].startswith("  hint: ")
    assert not any("hint" in line for line in check_exercise("lin", lambda *a: a[0], verbose=False).feedback)


@pytest.mark.parametrize("name", list(EXERCISES))
def test_no_hint_gives_the_reference_away(name):
    ex = EXERCISES[name]
    answer = ex.solution()
    if ex.kind == "predict":
        assert fmt(answer) not in ex.hint
        return
    body = inspect.getsource(answer).splitlines()[1:]
    code = [line.strip() for line in body if not line.strip().startswith(('"' * 3, "#"))]
    assert not [line for line in code if len(line) > 6 and line in ex.hint]


def test_use_keeps_a_passing_answer_and_falls_back_with_a_message(capsys):
    def mine(x):
        return x.clamp_min(0.0)

    assert check_exercise("relu", mine, verbose=False).use() is mine
    out = capsys.readouterr().out
    assert out.startswith("relu:") and "4 of 4" in out and "yours" in out

    def unsolved(x):
        raise NotImplementedError

    fallback = check_exercise("relu", unsolved, verbose=False).use()
    assert fallback is EXERCISES["relu"].solution() and fallback is not unsolved
    out = capsys.readouterr().out
    assert "reference" in out and "course_utils" in out
    assert fallback(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_a_stub_says_not_written_yet():
    def stub(*args):
        raise NotImplementedError

    result = check_exercise("lin", stub, verbose=False)
    assert result.passed == 0
    assert all("not written yet" in line for line in result.feedback)


def test_student_code_cannot_change_the_reference_cases():
    def vandal(x):
        x.zero_()
        return x

    check_exercise("relu", vandal, verbose=False)
    assert check_exercise("relu", torch.relu, verbose=False)


def test_a_custom_check_replaces_the_comparison():
    class Transposed(torch.nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(n_in, n_out))
            self.bias = torch.nn.Parameter(torch.zeros(n_out))

        def forward(self, x):
            return x @ self.weight + self.bias

    class Forgetful(torch.nn.Module):
        def __init__(self, n_in, n_out):
            self.weight = torch.nn.Parameter(torch.randn(n_out, n_in))

    assert "PyTorch's layout is (2, 10)" in check_exercise("linear_from_scratch", Transposed, verbose=False).feedback[0]
    forgot = check_exercise("linear_from_scratch", Forgetful, verbose=False)
    assert "raised AttributeError" in forgot.feedback[0] and "__init__" in forgot.feedback[0]


def test_adding_an_exercise_is_one_record(monkeypatch):
    record = Exercise("double", "03", "double(x)", "Twice x.", lambda x: 2 * x,
                      lambda: [Case("x = 2", (torch.tensor(2.0),), torch.tensor(4.0))])
    monkeypatch.setitem(EXERCISES, "double", record)
    assert check_exercise("double", lambda x: x + x, verbose=False)
    assert not check_exercise("double", lambda x: x, verbose=False)


def test_bad_calls_are_explained():
    with pytest.raises(ValueError, match="softmax.*relu"):
        check_exercise("softmax", torch.relu)
    with pytest.raises(TypeError, match="needs your function or class"):
        check_exercise("relu", 3)


@pytest.mark.parametrize("name, rules", [("mean_square", 0), ("mse", 1)])
def test_a_python_float_is_refused_where_later_cells_need_the_tensor(name, rules):
    """01 prints mean_square(l1).item() and 02 compares mse's loss with torch.equal: both need a tensor."""
    ref = EXERCISES[name].solution()
    result = check_exercise(name, lambda *args: ref(*args).item(), verbose=False)
    assert result.passed == rules, result.feedback
    assert all("return the tensor itself (without .item())" in line for line in misses(result))


@pytest.mark.parametrize("name", ["xavier_scale", "kaiming_scale"])
def test_a_scale_may_be_a_number_or_a_one_element_tensor(name):
    ref = EXERCISES[name].solution()
    assert check_exercise(name, lambda n: torch.tensor(ref(n)), verbose=False)
    wrong = check_exercise(name, lambda n: torch.tensor(ref(n) * 1.1), verbose=False)
    assert not wrong and "expected" in misses(wrong)[0]


def test_to_python_refuses_a_tensor_without_handing_over_the_method():
    line = misses(check_exercise("to_python", lambda t: t, verbose=False))[0]
    assert "not a tensor" in line and ".item()" not in line


def test_an_answer_that_changes_its_input_in_place_is_named():
    def in_place(x):
        x[x < 0] = 0
        return x

    result = check_exercise("relu", in_place, verbose=False)
    assert not result
    assert "changed its input x in place" in misses(result)[0], result.feedback

    def rows_appended(x, w, b):
        x.append(x[0])
        return _dense_loops(x[:-1], w, b)

    assert "changed its input x in place" in misses(check_exercise("dense_python", rows_appended, verbose=False))[0]
    assert check_exercise("relu", lambda x: x.clamp_min(0.0), verbose=False)


def test_mse_refuses_a_bare_squeeze_and_keeps_the_fix_for_the_hint():
    bare = check_exercise("mse", lambda output, targ: (output.squeeze() - targ).pow(2).mean(), verbose=False)
    assert not bare and "squeeze() without an axis" in misses(bare)[0]
    assert bare.passed == bare.total - 1   # the numbers are right for these shapes; the rule catches it

    def function_form(output, targ):
        return (torch.squeeze(output) - targ).pow(2).mean()

    assert "without an axis" in misses(check_exercise("mse", function_form, verbose=False))[0]

    def named_axis(output, targ):
        return (torch.squeeze(output, -1) - targ).pow(2).mean() + 0 * output.squeeze(dim=-1).sum()

    def indexed(output, targ):
        return (output[:, 0] - targ).pow(2).mean()

    assert check_exercise("mse", named_axis, verbose=False) and check_exercise("mse", indexed, verbose=False)
    broadcast = misses(check_exercise("mse", lambda output, targ: (output - targ).pow(2).mean(), verbose=False))
    assert all("squeeze(-1)" not in line and "[:, 0]" not in line for line in broadcast)


def test_dense_python_says_how_the_rows_are_wrong():
    def tuples(x, w, b):
        return [tuple(row) for row in _dense_loops(x, w, b)]

    def first_row(x, w, b):
        return _dense_loops(x, w, b)[0]

    assert all(w in misses(check_exercise("dense_python", tuples, verbose=False))[0] for w in ("tuple", "list"))
    assert all(w in misses(check_exercise("dense_python", first_row, verbose=False))[0] for w in ("flat", "2"))


@pytest.mark.parametrize("name", ["dense_python", "matmul_einsum", "mse"])
def test_a_stub_is_not_judged_by_the_rules_about_its_code(name):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = check_exercise(name, stub, verbose=False)
    assert result.passed == 0 and result.total == len(EXERCISES[name].cases()) - 1
    assert all("not written yet" in line for line in result.feedback), result.feedback


@pytest.mark.parametrize("name, unanswered, wrong", [
    ("relu", lambda x: (_ for _ in ()).throw(NotImplementedError), lambda x: x),
    ("std_after_50_layers", None, 1.0)])
def test_a_run_before_the_answer_is_written_is_not_a_failed_try(name, unanswered, wrong):
    for _ in range(3):
        assert not any("hint" in line for line in check_exercise(name, unanswered, verbose=False).feedback)
    assert not any("hint" in line for line in check_exercise(name, wrong, verbose=False).feedback)
    assert check_exercise(name, wrong, verbose=False).feedback[-1].startswith("  hint: ")


def test_a_prediction_of_infinity_is_called_an_overflow():
    line = check_exercise("std_after_50_layers", float("inf"), verbose=False).feedback[0]
    assert "(an overflow)" in line and "by inf" not in line


def test_the_relu_hint_steers_away_from_a_mask_product_which_prints_minus_zero():
    hint = EXERCISES["relu"].hint
    assert "torch.where" in hint and "(x > 0)" not in hint
    assert check_exercise("relu", lambda x: torch.where(x > 0, x, torch.zeros_like(x)), verbose=False)


def test_a_lin_written_with_broadcasting_passes_and_matches_the_package_closely():
    def lin(x, w, b):
        return (x[:, :, None] * w).sum(1) + b

    assert check_exercise("lin", lin, verbose=False)
    x, w, b = torch.randn(200, 100), torch.randn(100, 50), torch.zeros(50)
    assert torch.allclose(lin(x, w, b), EXERCISES["lin"].solution()(x, w, b), atol=1e-4)


def test_running_the_broken_code_as_handed_out_is_not_a_failed_try():
    def mse(output, targ):
        """The fix-the-bug exercise as the student copy hands it out."""
        return (output - targ).pow(2).mean()

    def tried(output, targ):
        return (output - targ[:, None]).pow(2).sum()

    for _ in range(2):
        given = check_exercise("mse", mse, verbose=False)
        assert not given and not any("hint" in line for line in given.feedback)
    assert not any("hint" in line for line in check_exercise("mse", tried, verbose=False).feedback)
    assert check_exercise("mse", tried, verbose=False).feedback[-1].startswith("  hint: ")
