"""Fill the example outputs of docs/analysts.md from a real lake (the demo's, by default).

Each example in the doc is a fenced ``sql`` block followed by a marker line
``<!-- output:NAME -->``; this script runs the SQL read-only against the lake and writes the
first rows below the marker (up to ``<!-- /output -->``), so every output shown is real.

    uv run python scripts/analyst_examples.py [--data-dir data/demo] [--rows 8]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "analysts.md"
BLOCK = re.compile(
    r"```sql\n(?P<sql>(?:(?!```).)*?)```\n<!-- output:(?P<name>[\w-]+) -->\n.*?<!-- /output -->",
    re.S,
)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return "" if value is None else str(value).replace("|", "\\|")


def render(data_dir: Path, rows: int) -> str:
    from warehouse.lake import connect_readonly

    text = DOC.read_text(encoding="utf-8")
    con = connect_readonly(data_dir)

    def fill(match: re.Match[str]) -> str:
        sql, name = match["sql"], match["name"]
        frame = con.execute(sql).pl().head(rows)  # via Arrow: timestamptz without pytz
        cols = frame.columns
        data = frame.rows()
        table = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
        table += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in data]
        return (
            f"```sql\n{sql}```\n<!-- output:{name} -->\n" + "\n".join(table) + "\n<!-- /output -->"
        )

    try:
        return BLOCK.sub(fill, text)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/demo"))
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    DOC.write_text(render(args.data_dir, args.rows), encoding="utf-8")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
