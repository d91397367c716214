"""Name, place and street pools with their derived forms, computed once per pool entry.

Pinyin comes from pypinyin (the same `lazy_pinyin` the pipeline's standardisation uses), one
call per pool character. Typo variants (adjacent swap, dropped letter) are fixed per entry,
so a record "with a typo" just picks the variant instead of the clean spelling.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
from pypinyin import lazy_pinyin

from pipelines.sample_data import pools
from pipelines.sample_data.text import strings

_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "'": "", " ": "", "-": ""})


def ascii_lower(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.lower().translate(_ASCII))
    return "".join(c for c in text if c.isascii() and c.isalnum())


def typo_variants(word: str, rng: np.random.Generator) -> tuple[str, str]:
    """(adjacent characters swapped, one character dropped); never touches the first one
    when the word is long enough, as people rarely mistype the initial."""
    if len(word) < 3:
        return word[::-1], word[:1] or word
    i = int(rng.integers(1, len(word) - 1))
    swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    j = int(rng.integers(1, len(word)))
    return swapped, word[:j] + word[j + 1:]


@dataclass(frozen=True)
class Pool:
    """One vocabulary: clean forms and their typo variants as Arrow arrays."""

    clean: pa.Array
    swapped: pa.Array
    dropped: pa.Array

    @classmethod
    def of(cls, words: list[str], seed: int) -> Pool:
        rng = np.random.default_rng(seed)
        variants = [typo_variants(w, rng) for w in words]
        return cls(strings(words), strings(v[0] for v in variants),
                   strings(v[1] for v in variants))

    def variant(self, kind: int) -> pa.Array:
        return (self.clean, self.swapped, self.dropped)[kind]

    def __len__(self) -> int:
        return len(self.clean)


@dataclass(frozen=True)
class ChineseNames:
    family: Pool  # characters
    family_py: Pool  # capitalised pinyin, e.g. 'Ouyang'
    family_weights: np.ndarray
    given: pa.Array  # single characters
    given_py: Pool  # capitalised pinyin syllable, e.g. 'Xiao'
    given_py_lower: pa.Array
    homophone: np.ndarray  # index of another given character read the same, or -1


@dataclass(frozen=True)
class WesternNames:
    first: Pool
    last: Pool
    first_ascii: pa.Array
    last_ascii: pa.Array
    first_ranges: dict[str, tuple[int, int]]  # name group -> [start, stop) in `first`
    last_ranges: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Places:
    country: np.ndarray  # per city: index into pools.COUNTRIES
    local: pa.Array  # city name in local script
    english: pa.Array
    postcode: list[list[str]]  # per city: postcode prefixes / outward codes
    area: list[list[str]]  # per city: area codes (US) or landline prefix (CN)
    offset: np.ndarray  # UTC offset in hours
    share: np.ndarray  # share within the country
    street: Pool  # all streets of all countries
    street_country: np.ndarray


def _flat(groups: dict[str, list[str]]) -> tuple[list[str], dict[str, tuple[int, int]]]:
    flat: list[str] = []
    ranges = {}
    for group, words in groups.items():
        ranges[group] = (len(flat), len(flat) + len(words))
        flat.extend(words)
    return flat, ranges


@cache
def chinese() -> ChineseNames:
    given = list(dict.fromkeys(pools.CN_GIVEN_CHARS))
    given_py = ["".join(lazy_pinyin(c)) for c in given]
    by_sound: dict[str, list[int]] = {}
    for i, p in enumerate(given_py):
        by_sound.setdefault(p, []).append(i)
    homophone = np.array([next((j for j in by_sound[p] if j != i), -1)
                          for i, p in enumerate(given_py)])
    family_py = ["".join(lazy_pinyin(f)).capitalize() for f in pools.CN_FAMILY]
    return ChineseNames(
        family=Pool.of(pools.CN_FAMILY, 11),
        family_py=Pool.of(family_py, 12),
        family_weights=np.array(pools.family_weights()),
        given=strings(given),
        given_py=Pool.of([p.capitalize() for p in given_py], 13),
        given_py_lower=strings(given_py),
        homophone=homophone,
    )


@cache
def western() -> WesternNames:
    first, first_ranges = _flat(pools.WESTERN_FIRST)
    last, last_ranges = _flat(pools.WESTERN_LAST)
    return WesternNames(
        first=Pool.of(first, 21), last=Pool.of(last, 22),
        first_ascii=strings(ascii_lower(w) for w in first),
        last_ascii=strings(ascii_lower(w) for w in last),
        first_ranges=first_ranges, last_ranges=last_ranges,
    )


@cache
def places() -> Places:
    rows = [(ci, *city) for ci, code in enumerate(pools.COUNTRIES) for city in pools.CITIES[code]]
    streets = [(ci, s) for ci, code in enumerate(pools.COUNTRIES) for s in pools.STREETS[code]]
    return Places(
        country=np.array([r[0] for r in rows]),
        local=strings(r[1] for r in rows),
        english=strings(r[2] for r in rows),
        postcode=[r[3].split() for r in rows],
        area=[r[4].split() for r in rows],
        offset=np.array([r[5] for r in rows]),
        share=np.array([r[6] for r in rows]),
        street=Pool.of([s for _, s in streets], 31),
        street_country=np.array([c for c, _ in streets]),
    )
