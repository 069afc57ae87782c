"""Flat memory: a large attachment never sits in memory as one string (checked in a child process)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

from .conftest import database, document, unid

CHILD = r"""
import sys
from notes2m365.dxl import iter_dxl
from notes2m365.convert import convert_document
n = total = 0
for doc in iter_dxl(sys.argv[1]):
    if not hasattr(doc, "items"):
        print("ERROR", doc, file=sys.stderr); sys.exit(1)
    conv = convert_document(doc)
    for att in conv.attachments:
        with att.open() as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
    n += 1
# VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across exec on Linux
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(n, total, hwm // 1024)
"""


def test_large_attachment_does_not_grow_memory(tmp_path):
    size = 64 * (3 << 18)  # 48 MiB
    block = os.urandom(3 << 18)  # a multiple of 3: the encoded blocks join without padding
    path = tmp_path / "big.dxl"
    head, tail = database("@@").split(b"@@")
    with open(path, "wb") as f:
        f.write(head)
        f.write(document(1).encode())
        f.write(b"<document form='Memo'><noteinfo unid='" + unid(2).encode() + b"' sequence='1'/>"
                b"<item name='$FILE'><object><file hosttype='msdos' name='big.bin' size='" + str(size).encode() + b"'>"
                b"<created><datetime>20240101T120000,00+01</datetime></created>"
                b"<modified><datetime>20240101T120000,00+01</datetime></modified><filedata>\n")
        for _ in range(size // len(block)):
            f.write(base64.encodebytes(block))
        f.write(b"</filedata></file></object></item></document>\n")
        f.write(document(3).encode())
        f.write(tail)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    docs, total, peak_mb = map(int, proc.stdout.split())
    print("peak RSS MiB", peak_mb)
    assert docs == 3 and total == size
    # 48 MiB of data, 64 MiB of base64: holding either would push the peak far above this
    assert peak_mb < 80, f"peak RSS {peak_mb} MiB"  # measured here: 35 MiB
