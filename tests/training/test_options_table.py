"""docs/training.md's options table is the one generated from RunConfig's fields."""

from pathlib import Path

from keras_classics.training import options

TRAINING_DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def test_the_documented_options_table_is_the_generated_one():
    document = TRAINING_DOC.read_text()
    expected = options.replace_table(document, options.markdown_table())
    assert document == expected, (
        "docs/training.md's options table differs from RunConfig's fields; regenerate it with: "
        + options.REGENERATE
    )


def test_write_replaces_a_stale_table_and_keeps_the_rest(tmp_path):
    page = tmp_path / "training.md"
    stale = "| option |\n|---|\n| `--gone` |\n"
    page.write_text(f"# Training\n\n{options.TABLE_BEGIN}\n{stale}{options.TABLE_END}\n\nafter\n")
    assert options.main(["--write", str(page)]) == 0
    text = page.read_text()
    assert "`--gone`" not in text and "| `--seed` | `0` |" in text
    assert text.startswith("# Training\n\n") and text.endswith(f"{options.TABLE_END}\n\nafter\n")
    assert options.replace_table(text, options.markdown_table()) == text
