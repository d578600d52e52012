"""labkit.programs (cells that are programs) and labkit.pictures (callback chains, timelines)."""

import pytest
from twisted.internet import defer

import labkit
from labkit import programs
from labkit.pictures import Timeline, trace_chain


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_program_shows_command_output_and_status(in_tmp):
    programs.save_program("p/hello.py", "import sys\nprint('hello', *sys.argv[1:])\n")
    run = labkit.run_program("p/hello.py", "world", 42)
    assert str(run) == "$ python programs/p/hello.py world 42\nhello world 42\n(exit status 0)"


def test_run_program_interrupts_a_program_that_runs_until_stopped(in_tmp):
    programs.save_program("forever.py", "import time\nprint('up', flush=True)\n"
                                        "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('stopped')\n")
    run = labkit.run_program("forever.py", interrupt_after=1)
    assert run.output == "up\nstopped\n" and run.process.returncode == 0 and "^C" in str(run)


def test_a_program_that_never_ends_is_stopped_at_its_time_limit(in_tmp):
    programs.save_program("stuck.py", "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                      "time.sleep(60)\n")
    run = labkit.run_program("stuck.py", timeout=0.5)
    assert run.process.returncode != 0


def test_start_program_waits_for_a_line_and_fails_clearly(in_tmp):
    programs.save_program("talk.py", "import sys\nprint('port 1234', flush=True)\nprint(sys.stdin.read())\n")
    program = labkit.start_program("talk.py", input="typed")
    assert program.wait_for_line(r"port (\d+)").group(1) == "1234"
    assert program.wait(5) == 0 and program.output == "port 1234\ntyped\n"
    with pytest.raises(TimeoutError, match="printed no line matching"):
        program.wait_for_line("never", timeout=0.2)
    with pytest.raises(FileNotFoundError, match="run its %%program cell first"):
        labkit.start_program("missing.py")


def test_trace_chain_shows_which_side_ran():
    d = defer.Deferred()
    chain = trace_chain(d, "demo")
    chain.addCallback(lambda r: 1 / 0).addErrback(lambda f: "recovered").addCallback(str.upper)
    d.callback("go")
    text = str(chain)
    assert "1. callback" in text and "raised ZeroDivisionError" in text
    assert "2. errback" in text and "gave 'recovered'" in text
    assert "3. callback" in text and "gave 'RECOVERED'" in text
    assert chain._repr_html_().count("#d8f5dd") == 2 and chain._repr_html_().count("#fbdada") == 1


def test_timeline_measures_overlap():
    timeline = Timeline("t")
    first, second = defer.Deferred(), defer.Deferred()
    timeline.track("a", first)
    timeline.track("b", second)
    first.callback(None)
    second.errback(RuntimeError("x"))
    second.addErrback(lambda f: None)
    assert timeline.most_at_once == 2
    assert [span.ok for span in timeline.spans] == [True, False]
    assert "<svg" in timeline._repr_html_()


def test_a_timeline_places_instants_timed_elsewhere_with_its_own_legend():
    timeline = Timeline("a log", origin=100.0, legend="green: info, grey: warn or worse.")
    timeline.add("info", 100.0)
    timeline.add("warn", 100.5, ok=False)
    timeline.add("span", 100.25, 100.75)
    assert [(s.start, s.end, s.ok) for s in timeline.spans] == [(0, 0, True), (0.5, 0.5, False), (0.25, 0.75, True)]
    assert timeline.duration == 0.75 and timeline.most_at_once == 2  # the instant at 0.5 within the span
    shown = timeline._repr_html_()
    assert "green: info, grey: warn or worse." in shown and "succeeded" not in shown
    assert shown.count("fill='#8c959f'") == 1 and shown.count("fill='#2da44e'") == 2


@pytest.mark.parametrize("name", ["ABSOLUTE", "../outside.py", "ch02/../../outside.py", "link/escaped.py"])
def test_a_program_is_never_written_outside_programs(in_tmp, name):
    outside = in_tmp.parent / f"{in_tmp.name}-elsewhere"
    outside.mkdir()
    (in_tmp / "programs").mkdir()
    (in_tmp / "programs" / "link").symlink_to(outside)
    name = str(outside / "absolute.py") if name == "ABSOLUTE" else name
    with pytest.raises(programs.OutsidePrograms, match="outside programs/"):
        programs.save_program(name, "print('escaped')\n")
    with pytest.raises(programs.OutsidePrograms):
        labkit.start_program(name)
    assert not list(outside.iterdir()) and not (in_tmp / "outside.py").exists()
    assert programs.save_program("ch02/inside.py", "x = 1\n") == programs.PROGRAMS / "ch02" / "inside.py"
