"""What a step row keeps of a node's output: all of it when small, its shape when large."""

from datetime import UTC, datetime

from shared.step_summary import MAX_SUMMARY_BYTES, summarize


def test_a_small_output_is_kept_whole_even_with_values_json_does_not_know() -> None:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert summarize({"i": 1, "at": at}) == {"output": {"i": 1, "at": at}}


def test_nothing_is_summarized_as_nothing() -> None:
    assert summarize(None) is None


def test_a_large_output_keeps_its_size_in_bytes_and_its_first_keys() -> None:
    output = {f"k{n}": "é" * 100 for n in range(60)}
    summary = summarize(output)
    assert summary is not None
    assert summary["truncated"] is True
    # "é" is two bytes in UTF-8: the size counts bytes, as its name says.
    assert summary["bytes"] > 60 * 200 > MAX_SUMMARY_BYTES
    assert summary["keys"] == [f"k{n}" for n in range(50)]
