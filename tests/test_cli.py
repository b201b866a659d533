"""The command line as a user runs it (subprocesses, real files)."""

import subprocess
import sys
from pathlib import Path

from server.core.config import BUNDLED_CORPUS


def tutor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_ingest_adds_good_files_reports_bad_ones_and_lists_them(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "camels.md").write_text(
        "# Camels\n\nThe dromedary has one hump and the Bactrian camel has two humps; both "
        "store fat in them, not water, and can go for days without drinking.\n"
    )
    (folder / "empty.txt").write_text("")
    (folder / "notes.pdf").write_bytes(b"%PDF")  # not a supported type: not even tried
    data = tmp_path / "data"
    result = tutor("ingest", str(folder), str(BUNDLED_CORPUS), "--data-dir", str(data))
    assert result.returncode == 1, result.stderr  # one file failed
    assert "added: #1 Camels" in result.stdout
    assert "empty.txt: the file is empty" in result.stderr
    assert result.stdout.count("added:") == 3
    again = tutor("ingest", str(folder / "camels.md"), "--data-dir", str(data))
    assert again.returncode == 0 and "already present" in again.stdout
    listing = tutor("articles", "--data-dir", str(data))
    assert "Camels" in listing.stdout and "AgntBox" in listing.stdout


def test_ingest_of_nothing_is_a_usage_error(tmp_path: Path) -> None:
    result = tutor("ingest", str(tmp_path), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2 and result.stderr.startswith("error: no .txt")


def test_an_unknown_option_is_a_usage_line_not_a_traceback() -> None:
    result = tutor("eval", "--file", "questions.json")
    assert result.returncode == 2
    assert "No such option: --file" in result.stderr and "Traceback" not in result.stderr


def test_eval_can_say_the_questions_aloud_and_answer_what_is_heard(tmp_path: Path) -> None:
    """`tutor eval --spoken piper`: each question said by the tutor's voice, heard by
    Whisper, then answered and scored as typed questions are (facts, not transcripts)."""
    import json

    questions = tmp_path / "q.json"
    questions.write_text(
        json.dumps(
            [
                {"q": "When is Avocado expected to launch?", "all": ["2026"]},
                {"q": "What is the capital of Australia?", "abstain": True},
            ]
        )
    )
    data = str(tmp_path / "data")
    result = tutor("eval", str(questions), "--no-llm", "--spoken", "piper", "--data-dir", data)
    assert result.returncode == 0, result.stderr
    assert "of 2 questions heard other than said" in result.stdout
    assert "out-of-scope declined" in result.stdout and "1/1" in result.stdout
    wrong = tutor("eval", str(questions), "--spoken", "robot", "--data-dir", data)
    assert wrong.returncode == 2 and "the voices are piper, espeak" in wrong.stderr


def test_ask_prints_the_answer_and_its_sources(tmp_path: Path) -> None:
    result = tutor("ask", "How was Llama 4 received?", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "lukewarm" in result.stdout and "[1] Meta’s AI Strategy" in result.stdout
    declined = tutor("ask", "What is the capital of Australia?", "--data-dir", str(tmp_path))
    assert "not covered by the articles" in declined.stdout


def test_ask_explain_prints_the_trace_after_the_answer(tmp_path: Path) -> None:
    result = tutor(
        "ask", "What is the capital of Australia?", "--explain", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    answer, _, trace = result.stdout.partition("question: What is the capital of Australia?")
    assert "not covered by the articles" in answer and trace  # the answer, then why
    assert "decision: decline (rule unknown_entity" in trace
    assert "candidates (" in trace and "dense" in trace and "bm25" in trace


def test_benchmarks_name_the_cpu_and_its_vector_extensions() -> None:
    from server.ops.hardware import cpu_line

    line = cpu_line()
    assert "cores;" in line and line.split(";")[1].strip()  # model, then the extensions
