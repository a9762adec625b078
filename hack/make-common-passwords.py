"""Write libdockit/data/common-passwords.txt from John the Ripper's password.lst.

The list is Openwall's (compiled by Solar Designer, 1996-2011, in the public domain; Debian
ships it in the package john-data as /usr/share/john/password.lst). Comments are dropped,
entries lower-cased (Dockit compares without case) and kept once, most common first.

    apt-get download john-data && dpkg-deb -x john-data_*.deb john
    python3 hack/make-common-passwords.py john/usr/share/john/password.lst
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "libdockit" / "data" / "common-passwords.txt"
HEADER = (
    "# The most common passwords, refused by Dockit (libdockit.password_policy).\n"
    "# From John the Ripper's password.lst (Openwall Project, public domain), lower-cased,\n"
    "# each once, most common first. Made by hack/make-common-passwords.py.\n"
)


def main(source: str) -> int:
    seen: dict[str, None] = {}
    for line in Path(source).read_text(encoding="latin-1").splitlines():
        if line and not line.startswith("#!comment"):
            seen.setdefault(line.lower(), None)
    TARGET.write_text(HEADER + "".join(f"{word}\n" for word in seen), encoding="utf-8")
    print(f"{len(seen)} passwords written to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
