"""A short local story, and the markup the extraction tests build their pages from."""

URL = "https://news.example.org/local/water-pipes"
TITLE = "Water board to replace old pipes"
STORY = [
    "The regional water board approved a plan on Monday to replace the oldest pipes under "
    "the harbour district before the end of next year.",
    "Engineers found that a third of the mains there were laid before 1950 and now lose "
    "almost a fifth of the water they carry.",
    "The work will close two streets at a time for about six weeks each, the board said in "
    "a statement after the vote.",
    "Residents can read the full schedule on the board's website and ask questions at a "
    "public meeting in the town hall next Thursday.",
]


def paragraphs(sentences: list[str]) -> str:
    """Each sentence as a <p> of its own."""
    return "".join(f"<p>{sentence}</p>" for sentence in sentences)
