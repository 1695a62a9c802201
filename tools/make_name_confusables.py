"""Make ``pollchat/protocol/name_confusables.txt`` from Unicode's ``confusables.txt``.

Usage::

    python tools/make_name_confusables.py confusables.txt > pollchat/protocol/name_confusables.txt

``confusables.txt`` is the data file of UTS #39, Unicode Security Mechanisms
(https://www.unicode.org/Public/security/<version>/confusables.txt). pollchat only needs
the lines whose source character can be part of an account name once it is NFKC
normalised (:mod:`pollchat.protocol.names`): a letter (L*), a decimal digit (Nd), a
combining mark (M*, which NFD splits off accented letters), ``_``, ``-`` or ``.``. This
keeps about 2,000 of the file's 6,000 lines, every script included. Run it with the
Python that will run the server, so the categories agree with its ``unicodedata``.
"""

from __future__ import annotations

import sys
import unicodedata

PUNCTUATION = "_-."


def name_character(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch in PUNCTUATION or category[0] in ("L", "M") or category == "Nd"


def main(path: str) -> int:
    header: list[str] = []
    rows: list[tuple[str, str]] = []
    with open(path, encoding="utf-8-sig") as source:
        for line in source:
            if line.startswith("#") and not rows:
                header.append(line.rstrip("\n"))
            data = line.split("#", 1)[0].strip()
            if not data:
                continue
            src, target, _kind = (field.strip() for field in data.split(";"))
            ch = chr(int(src, 16))
            if " " not in src and name_character(ch) and unicodedata.normalize("NFKC", ch) == ch:
                rows.append((src, target))
    version = next((h.split(":", 1)[1].strip() for h in header if h.startswith("# Version:")), "?")
    date = next((h.split(":", 1)[1].strip() for h in header if h.startswith("# Date:")), "?")
    out = sys.stdout
    out.write(NOTICE.format(version=version, date=date, count=len(rows), python=sys.version.split()[0],
                            unicode=unicodedata.unidata_version))
    for src, target in sorted(rows, key=lambda row: int(row[0], 16)):
        out.write(f"{src} ; {target}\n")
    return 0


NOTICE = """\
# name_confusables.txt: which characters of account names look like which (pollchat).
#
# A MODIFIED SUBSET of confusables.txt, Unicode Security Mechanisms for UTS #39,
# Version: {version}, Date: {date}
# (https://www.unicode.org/Public/security/{version}/confusables.txt).
# Modification: only the {count} lines whose source is one character that can be part
# of an account name after NFKC (a letter, a decimal digit, a combining mark, '_', '-',
# '.'), as "SOURCE ; PROTOTYPE" in hex, sorted by source; comments and the type field
# dropped. Made by tools/make_name_confusables.py with Python {python} (Unicode {unicode}).
#
# COPYRIGHT AND PERMISSION NOTICE
#
# Copyright (c) 1991-2020 Unicode, Inc. All rights reserved.
# Distributed under the Terms of Use in https://www.unicode.org/copyright.html.
#
# Permission is hereby granted, free of charge, to any person obtaining a copy of the
# Unicode data files and any associated documentation (the "Data Files") or Unicode
# software and any associated documentation (the "Software") to deal in the Data Files
# or Software without restriction, including without limitation the rights to use,
# copy, modify, merge, publish, distribute, and/or sell copies of the Data Files or
# Software, and to permit persons to whom the Data Files or Software are furnished to do
# so, provided that either (a) this copyright and permission notice appear with all
# copies of the Data Files or Software, or (b) this copyright and permission notice
# appear in associated Documentation.
#
# THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
# EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
# FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF THIRD PARTY RIGHTS. IN NO
# EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE BE LIABLE FOR ANY
# CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES, OR ANY DAMAGES WHATSOEVER
# RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT,
# NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR
# PERFORMANCE OF THE DATA FILES OR SOFTWARE.
#
# Except as contained in this notice, the name of a copyright holder shall not be used
# in advertising or otherwise to promote the sale, use or other dealings in these Data
# Files or Software without prior written authorization of the copyright holder.
#
"""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
