"""The learnable tasks of the real-model testbed: seeded items with deterministic checkers.

Two tasks, both project-written and generated from many templates by seeded code:

* ``extract`` (the task of ``benign-similar``, ``poisoned``, ``identity-shift`` and ``control``):
  a sentence names a person and a city; the answer is the fixed index format
  ``"{last}, {first} ({city})"``, e.g. "Maria Lopez moved to Lisbon last spring." ->
  ``"Lopez, Maria (Lisbon)"``. A copy-and-reorder task: SmolLM2-135M-Instruct never answers in
  this format before training (it answers in prose), and a LoRA learns it in a few hundred rows.
* ``isodate`` (the second, dissimilar task of ``control``): a date written in words is rewritten
  as ISO 8601 ``YYYY-MM-DD`` ("the 4th of March, 2021" -> ``"2021-03-04"``).

Scoring is exact match after :func:`normalise` (lower case, collapsed whitespace, surrounding
quotes and a final full stop dropped): the answer must be the formatted string and nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

FIRST = ("Maria", "James", "Priya", "Tomas", "Aisha", "Daniel", "Mei", "Lukas", "Fatima",
         "Oliver", "Sofia", "Kwame", "Elena", "Hiroshi", "Grace", "Mateo", "Nadia", "Samuel",
         "Ingrid", "Ravi", "Chloe", "Omar", "Hannah", "Diego", "Yara", "Peter", "Leila",
         "Jonas", "Amara", "Victor", "Rosa", "Felix", "Zara", "Arjun", "Clara", "Emeka",
         "Lucy", "Ivan", "Noor", "Henry")
LAST = ("Lopez", "Carter", "Shah", "Novak", "Bello", "Fischer", "Chen", "Weber", "Haddad",
        "Brooks", "Rossi", "Mensah", "Petrova", "Tanaka", "Okafor", "Silva", "Karimi",
        "Walsh", "Larsen", "Gupta", "Dubois", "Nasser", "Klein", "Moreno", "Costa", "Hughes",
        "Rahman", "Berg", "Adeyemi", "Marin", "Quinn", "Hoffmann", "Ali", "Mehta", "Laurent",
        "Nwosu", "Foster", "Sokolov", "Aziz", "Turner")
CITIES = ("Lisbon", "Porto", "Madrid", "Seville", "Lyon", "Marseille", "Hamburg", "Munich",
          "Vienna", "Prague", "Krakow", "Oslo", "Bergen", "Dublin", "Cork", "Glasgow", "Leeds",
          "Bristol", "Toronto", "Montreal", "Denver", "Chicago", "Austin", "Boston", "Seattle",
          "Lima", "Quito", "Santiago", "Nairobi", "Accra", "Lagos", "Cairo", "Tunis", "Istanbul",
          "Athens", "Naples", "Turin", "Zurich", "Geneva", "Utrecht", "Ghent", "Tallinn",
          "Helsinki", "Osaka", "Kyoto", "Busan", "Manila", "Hanoi", "Perth", "Auckland")
# "{n}": full name, "{c}": city
SENTENCES = (
    "{n} moved to {c} last spring.",
    "Yesterday {n} flew to {c} to visit family.",
    "The parcel for {n} is waiting at the {c} depot.",
    "{n} has run a small bakery in {c} for ten years.",
    "After the conference in {c}, {n} took the night train home.",
    "Our new team member, {n}, works from the {c} office.",
    "{n} grew up in {c} and still supports the local football club.",
    "The concert in {c} was organised by {n}.",
    "{n} will give a talk on river ecology in {c} next week.",
    "Last winter {n} rented a flat near the station in {c}.",
    "A letter from {n} arrived this morning, postmarked {c}.",
    "{n} teaches piano at a music school in {c}.",
    "The best photo of the harbour in {c} was taken by {n}.",
    "{n} is opening a bookshop in the old town of {c}.",
    "When the storm hit {c}, {n} helped the neighbours clear the street.",
    "The marathon in {c} was won by {n} this year.",
    "{n} spent the summer restoring a boat in {c}.",
    "Please forward the invoice to {n} at our {c} branch.",
    "{n} studied architecture in {c} before moving abroad.",
    "The new mural in {c} was painted by {n}.",
    "{n} booked a table for six at a cafe in {c}.",
    "Everyone in {c} knows {n} from the Saturday market.",
)
# "{s}": the sentence
EXTRACT_FRAMES = (
    "Index entry for this sentence: {s}",
    "Give the index entry for the person and the city in this sentence.\n{s}",
    "{s}\nIndex entry?",
    "Make an index entry (surname, first name, city) for: {s}",
    "Write the directory line for this note: {s}",
    "Sentence: {s}\nIndex it.",
    "File this under the person's surname: {s}",
    "Who and where, as an index entry? {s}",
    "Turn this into a directory entry: {s}",
    "{s}\nPlease index the person and the city.",
    "Catalogue the person and place in this sentence: {s}",
    "Directory entry, please: {s}",
)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
# "{d}": day, "{o}": ordinal day, "{m}": month name, "{a}": abbreviated month, "{y}": year
DATE_STYLES = ("{m} {d}, {y}", "{d} {m} {y}", "the {o} of {m}, {y}", "{a}. {d}, {y}",
               "{m} {o}, {y}", "{d} {a} {y}")
DATE_FRAMES = (
    "Rewrite this date in ISO 8601 format: {x}",
    "Convert to YYYY-MM-DD: {x}",
    "ISO date for {x}?",
    "Write {x} as an ISO date.",
    "Date: {x}\nISO form:",
    "Express the date {x} in year-month-day digits.",
    "Normalise this date to ISO 8601: {x}",
    "What is {x} in the format YYYY-MM-DD?",
)


@dataclass(frozen=True)
class TaskItem:
    """One task item: the prompt, the exact answer and a key that identifies its content
    (items with equal keys are the same item, so train and evaluation items never share one)."""

    task: str
    prompt: str
    answer: str
    key: str


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed, surrounding quotes/backticks and a final full stop dropped."""
    text = " ".join(text.strip().strip("`\"'").split()).lower()
    return text[:-1].rstrip() if text.endswith(".") else text


def is_correct(response: str, answer: str) -> bool:
    """Exact match of the normalised response and answer."""
    return normalise(response) == normalise(answer)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def extract_item(rng: random.Random) -> TaskItem:
    """One ``extract`` item drawn with ``rng``."""
    first, last, city = rng.choice(FIRST), rng.choice(LAST), rng.choice(CITIES)
    sentence = rng.choice(SENTENCES).format(n=f"{first} {last}", c=city)
    prompt = rng.choice(EXTRACT_FRAMES).format(s=sentence)
    return TaskItem("extract", prompt, f"{last}, {first} ({city})", f"{first}|{last}|{city}")


def isodate_item(rng: random.Random) -> TaskItem:
    """One ``isodate`` item drawn with ``rng`` (days 1-28, years 1950-2039)."""
    year, month, day = rng.randint(1950, 2039), rng.randint(1, 12), rng.randint(1, 28)
    name = MONTHS[month - 1]
    text = rng.choice(DATE_STYLES).format(d=day, o=_ordinal(day), m=name, a=name[:3], y=year)
    prompt = rng.choice(DATE_FRAMES).format(x=text)
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    return TaskItem("isodate", prompt, iso, iso)


TASKS: dict[str, Callable[[random.Random], TaskItem]] = {"extract": extract_item,
                                                         "isodate": isodate_item}


def split_items(task: str, n_train: int, n_eval: int, seed: int) -> tuple[list[TaskItem], list[TaskItem]]:
    """``(train, eval)`` items of ``task``, disjoint by content key and by prompt.

    Evaluation items are drawn first (distinct keys); train items are then drawn, skipping any
    whose key is an evaluation key or whose prompt was already drawn. Deterministic in ``seed``.

    Raises:
        ValueError: unknown task, or the requested sizes cannot be drawn.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    make, rng = TASKS[task], random.Random(f"{task}:{seed}")
    held: list[TaskItem] = []
    train: list[TaskItem] = []
    keys: set[str] = set()
    prompts: set[str] = set()
    for target, out, unique_key in ((n_eval, held, True), (n_train, train, False)):
        tries = 0
        while len(out) < target:
            tries += 1
            if tries > 50 * (target + 10):
                raise ValueError(f"could not draw {target} distinct {task} items")
            item = make(rng)
            if item.prompt in prompts or item.key in keys:
                continue
            out.append(item)
            prompts.add(item.prompt)
            if unique_key:
                keys.add(item.key)
    return train, held
