"""The commands and examples printed in the README and the manual's pages, as the tests read them.

Commands are the lines of the ```bash blocks (continuation lines joined, comments dropped), in the order a
reader meets them: the README first, then the pages in the order of ``MANUAL``. Examples are the code
blocks that follow an ``<!-- interop: NAME -->`` marker. The reproduction records under docs/ are records
of runs, not manual pages: their commands are what made them.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANUAL = [
    REPO / "README.md",
    *(
        REPO / "docs" / f"{page}.md"
        for page in ("getting-started", "usage", "your-sequences", "library", "study", "workflow")
    ),
    REPO / "docs" / "benchmarks.md",
]


def documented_commands() -> list[str]:
    """Every command of the README's and the pages' ```bash blocks, each once, in reading order."""
    commands: list[str] = []
    for page in MANUAL:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+", " ", re.sub(r"\s+#.*$", "", line)).strip()
                if command and not command.startswith("#") and command not in commands:
                    commands.append(command)
    return commands


def example(name: str) -> tuple[str, str]:
    """(language, code) of the block after ``<!-- interop: name -->`` in the README or a page."""
    found = [
        (page, match)
        for page in MANUAL
        for match in re.finditer(rf"<!-- interop: {name} -->\n```(\w+)\n(.*?)```", page.read_text(), re.S)
    ]
    assert len(found) == 1, f"example {name!r} is printed {len(found)} times in the README and the pages"
    return found[0][1][1], found[0][1][2]
