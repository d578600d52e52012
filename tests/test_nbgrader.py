"""nbgrader's round trip for every chapter, with the real nbgrader and the course configuration instructors copy.

Each chapter gets a course directory of its own (``course/nbgrader_config.py``, the complete notebook under
``source/``): ``nbgrader generate_assignment``, then one ``nbgrader autograde`` of several submissions: the complete
notebook (full marks), the untouched release (zero) and the release with one exercise solved by its cell from the
complete notebook (exactly that exercise's points). Scores are read from nbgrader's gradebook. A chapter is
graded once, by the first of its tests that needs it; a chapter whose grading failed fails its own tests only.
The release's cells are the learner copy's cells.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from authoring.learner import LEARNER_VERSION, learner_copy

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
# The exercises solved one at a time (a chapter not listed: its first); fix-the-bug ones start from their buggy code.
SOLVED = {"01": ["ex1-2-ckeygen"], "02": ["ex2-3-fix-hang", "ex2-6-echo"], "03": ["ex3-2-fetch-private"],
          "04": ["ex4-2-request-handler"]}
# The chapters with "fix the bug" exercises, and the exercises that at least must be released with their buggy code.
FIX_THE_BUG = {"02": {"ex2-3-fix-hang", "ex2-6-echo"}, "04": {"ex4-2-request-handler"}}
GRADING_LIMIT = 600  # seconds for one chapter's autograde (a few notebooks, each cell bounded by Execute.timeout)


def _nbgrader(course: pathlib.Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(process: subprocess.Popen) -> str:
    """nbgrader's output, without the kernels' warnings about TCP; empty if it succeeded."""
    try:
        output, _ = process.communicate(timeout=GRADING_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    told = "\n".join(line for line in output.splitlines() if "Kernel is running over TCP" not in line)
    return "" if process.returncode == 0 else f"{' '.join(process.args[2:])} failed:\n{told[-6000:]}"


def _run(course: "Course", command: str, *options: str) -> None:
    """One nbgrader command in the course. A kernel that dies before it starts (the machine is shared and busy)
    gets one more try; any other failure is the test's."""
    failure = _finish(_nbgrader(course.root, command, course.assignment, *options))
    if "Kernel died before replying to kernel_info" in failure:
        failure = _finish(_nbgrader(course.root, command, course.assignment, *options))
    assert not failure, failure


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _check_of(exercise: str) -> str:
    return "check" + exercise.removeprefix("ex")


class Course:
    """One chapter's course directory, after generate_assignment and autograde."""

    def __init__(self, root: pathlib.Path, chapter: pathlib.Path):
        self.root, self.chapter = root, chapter
        self.assignment, self.notebook = f"ch{chapter.name[:2]}", chapter.stem
        exercises = [_grading(c)["grade_id"] for c in nbformat.read(chapter, as_version=4).cells
                     if _grading(c).get("solution")]
        self.solved = {f"solved-{exercise}": exercise for exercise in SOLVED.get(chapter.name[:2], exercises[:1])}
        (root / "source" / self.assignment).mkdir(parents=True)
        shutil.copy(ROOT / "course" / "nbgrader_config.py", root)
        shutil.copy(chapter, root / "source" / self.assignment)

    @property
    def release(self) -> pathlib.Path:
        return self.root / "release" / self.assignment / self.chapter.name

    def submit(self, student: str, notebook: nbformat.NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / self.chapter.name)

    def submit_all(self) -> None:
        complete = nbformat.read(self.chapter, as_version=4)
        self.submit("complete", complete)
        self.submit("untouched", nbformat.read(self.release, as_version=4))
        solutions = {_grading(c).get("grade_id"): c.source for c in complete.cells if _grading(c).get("solution")}
        for student, exercise in self.solved.items():
            release = nbformat.read(self.release, as_version=4)
            (cell,) = [c for c in release.cells if _grading(c).get("grade_id") == exercise]
            cell.source = solutions[exercise]
            self.submit(student, release)

    def shown(self, student: str, checks) -> str:
        """What the named check cells showed when autograde ran them (nbgrader scores errors and stderr 0)."""
        graded = nbformat.read(self.root / "autograded" / student / self.assignment / self.chapter.name, 4)
        return "\n".join(f"{_grading(cell)['grade_id']}: {output.output_type} {output.get('name', '')} "
                         f"{output.get('text') or output.get('evalue') or ''}".strip()
                         for cell in graded.cells if _grading(cell).get("grade_id") in checks
                         for output in cell.outputs if output.output_type in ("error", "stream"))

    def grades(self, student: str) -> dict[str, float]:
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_submission_notebook(self.notebook, self.assignment, student)
            return {grade.name: grade.score for grade in notebook.grades}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(chapter)``: the chapter's course after generate_assignment and autograde, graded on first use; a
    chapter whose grading failed fails every test that asks for it, with nbgrader's message."""
    courses: dict[pathlib.Path, Course | str] = {}

    def grade(chapter: pathlib.Path) -> Course:
        if chapter not in courses:
            course = Course(tmp_path_factory.mktemp(chapter.stem[:2]), chapter)
            try:
                _run(course, "generate_assignment", "--force")
                course.submit_all()
                _run(course, "autograde", "--create", "--force")
                courses[chapter] = course
            except AssertionError as failure:
                courses[chapter] = str(failure)
        if isinstance(courses[chapter], str):
            pytest.fail(f"grading {chapter.stem} failed: {courses[chapter]}", pytrace=False)
        return courses[chapter]
    return grade


def _points(chapter: pathlib.Path) -> dict[str, float]:
    cells = nbformat.read(chapter, as_version=4).cells
    return {_grading(c)["grade_id"]: _grading(c)["points"] for c in cells if _grading(c).get("grade")}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_complete_notebook_gets_full_marks(graded, chapter):
    grades, points = graded(chapter).grades("complete"), _points(chapter)
    assert grades == points, graded(chapter).shown("complete", {c for c in points if grades.get(c) != points[c]})


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_untouched_release_gets_zero(graded, chapter):
    assert graded(chapter).grades("untouched") == {check: 0 for check in _points(chapter)}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_one_exercise_solved_gets_exactly_its_points(graded, chapter):
    course, points = graded(chapter), _points(chapter)
    for student, exercise in course.solved.items():
        wanted = {check: (points[check] if check == _check_of(exercise) else 0) for check in points}
        assert course.grades(student) == wanted, f"{student}:\n{course.shown(student, {_check_of(exercise)})}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_release_has_the_learner_copys_cells(graded, chapter):
    release = nbformat.read(graded(chapter).release, as_version=4)
    assert release.cells == learner_copy(nbformat.read(chapter, as_version=4)).cells


def test_the_fix_the_bug_chapters_are_the_ones_with_learner_versions():
    assert {chapter.name[:2] for chapter in CHAPTERS if LEARNER_VERSION in chapter.read_text()} == set(FIX_THE_BUG)


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.name[:2] in FIX_THE_BUG], ids=lambda p: p.stem)
def test_fix_the_bug_exercises_are_released_with_their_buggy_code(graded, chapter):
    course, released = graded(chapter), set()
    complete = {_grading(c).get("grade_id"): c.source for c in nbformat.read(chapter, as_version=4).cells}
    for cell in nbformat.read(course.release, as_version=4).cells:
        source = complete.get(_grading(cell).get("grade_id"), "")
        if LEARNER_VERSION in source:
            buggy = source.split(LEARNER_VERSION)[1].splitlines()[1].replace("# ", "", 1)
            assert "NotImplementedError" not in cell.source and buggy in cell.source, cell.source
            compile(cell.source, _grading(cell)["grade_id"], "exec")
            released.add(_grading(cell)["grade_id"])
    assert FIX_THE_BUG[chapter.name[:2]] <= released
