"""Short tracebacks: the learner's own frames, the exception, and no folder of this machine's libraries."""

import json
import linecache
import pathlib
import traceback

from twisted.python.failure import Failure

from labkit.tracebacks import failure_text, short_traceback

NOTEBOOKS = pathlib.Path(__file__).parent.parent / "notebooks"


def frame(filename, lineno=1, name="f"):
    return traceback.FrameSummary(filename, lineno, name, line="")


def test_the_learners_innermost_frames_are_kept_and_library_frames_left_out():
    frames = [frame("/opt/venv/lib/python3.11/site-packages/twisted/internet/base.py", 10, "runUntilCurrent"),
              frame("/tmp/ipykernel_1/123.py", 7, "lineReceived"),
              frame("/opt/venv/lib/python3.11/site-packages/twisted/protocols/basic.py", 20, "sendLine")]
    text = short_traceback(frames)
    assert "ipykernel_1/123.py" in text and "lineReceived" in text
    assert "site-packages" not in text and "basic.py" not in text


def test_with_only_library_frames_the_innermost_is_shown_without_its_folder():
    text = short_traceback([frame("/home/someone/.venv/lib/python3.12/site-packages/twisted/web/server.py", 5),
                            frame("/home/someone/project/labkit/serving.py", 9, "dataReceived")])
    assert 'File "labkit/serving.py"' in text
    assert "/home/someone" not in text
    text = short_traceback([frame("/home/someone/.venv/lib/python3.12/site-packages/twisted/web/proxy.py", 5)])
    assert 'File "twisted/web/proxy.py"' in text


def test_a_failure_reads_as_why_where_and_what():
    def learners_code():
        raise TypeError("can only concatenate str (not \"bytes\") to str")

    try:
        learners_code()
    except TypeError:
        failure = Failure()
    text = failure_text(failure, "Unhandled Error")
    lines = text.splitlines()
    assert lines[0] == "Unhandled Error"
    assert "learners_code" in text
    assert lines[-1] == 'TypeError: can only concatenate str (not "bytes") to str'
    assert len(lines) <= 1 + 2 * 3 + 1


def test_an_error_logged_the_old_way_reads_as_short_too(capsys):
    from twisted.logger import LogLevel

    from labkit import output

    try:
        1 / 0
    except ZeroDivisionError:
        failure = Failure()
    output._log_observer({"failure": failure, "isError": 1, "why": "Peer will receive following PB traceback:",
                          "log_level": LogLevel.critical, "log_format": "{log_text}",
                          "log_text": "Unhandled Error\nTraceback (most recent call last): ...", "log_time": 0})
    shown = capsys.readouterr().err
    assert shown.startswith("Peer will receive following PB traceback:\n")
    assert shown.rstrip().endswith("ZeroDivisionError: division by zero") and "Traceback" not in shown


def test_no_committed_notebook_names_a_library_folder_of_the_machine_it_ran_on():
    for path in sorted(NOTEBOOKS.glob("**/*.ipynb")):
        text = json.dumps(json.loads(path.read_text()))
        assert "site-packages" not in text and "dist-packages" not in text, path


def test_a_library_path_a_peer_sent_as_text_loses_the_machines_folders_in_a_log():
    from labkit.output import Log

    log = Log("test-paths")
    log.write("Got remote error, code 9\n\treason: b\"bad host key [Failure instance: Traceback: HostKeyChanged\\n"
              "/home/someone/.venv/lib/python3.11/site-packages/twisted/internet/defer.py:144:execute\\n]\"\n")
    assert "/home/someone" not in log.text and "site-packages" not in log.text
    assert "\\ntwisted/internet/defer.py:144:execute\\n" in log.text


def carets_under(code, **names):
    """The frame of the line ``code`` raising, formatted by short_traceback: its source line and its carets."""
    source = "def failing():\n    " + code.replace("\n", "\n    ") + "\n"
    filename = f"<carets {code!r}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(names)
    exec(compile(source, filename, "exec"), namespace)
    try:
        namespace["failing"]()
    except Exception as error:
        return short_traceback(traceback.extract_tb(error.__traceback__)[-1:]).splitlines()[1:]
    finally:
        del linecache.cache[filename]
    raise AssertionError(f"{code} did not raise")


def test_carets_pick_out_an_operator_and_brackets_and_underline_a_call_whole_on_every_python():
    assert carets_under('x = "You said: " + line', line=b"hi") == [
        '    x = "You said: " + line',
        '        ~~~~~~~~~~~~~^~~~~~']
    assert carets_under('x = lines[5]', lines=[]) == [
        "    x = lines[5]",
        "        ~~~~~^^^"]
    # Python 3.13 would draw the call as ~~~~~~~~~~~^^^^^^^: a saved traceback must not depend on the version.
    assert carets_under('x = "\\r\\n".join(lines)', lines=[b"GET"]) == [
        '    x = "\\r\\n".join(lines)',
        "        ^^^^^^^^^^^^^^^^^^"]


def test_no_carets_where_the_whole_line_failed_and_only_the_first_line_of_a_longer_expression():
    assert carets_under("len(thing)", thing=None) == ["    len(thing)"]
    assert carets_under("x = (name +\n     1)", name="a") == [
        "    x = (name +",
        "         ^^^^^^"]


def test_a_frame_without_its_position_has_no_carets():
    assert short_traceback([frame("/tmp/ipykernel_1/123.py", 3, "lineReceived")]).count("\n") == 1
