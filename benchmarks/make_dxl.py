#!/usr/bin/env python3
"""Generate a large synthetic Domino mail DXL file, streaming (never held in memory).

Three shapes:

* ``--kind plain``: plain mail, the unit of the migration benchmark (``bench_migrate.py``): the
  usual mail items and a short ``Body`` of 1-3 unstyled paragraphs (about 150-800 bytes of text);
  no attachments, no lists or tables.
* ``--kind text``: text-heavy mail.  Every ``Memo`` has the usual mail items and a
  rich ``Body`` of about 2-8 KB (pardefs, styled runs, bullet lists, now and then a
  small table and a URL link); no attachments.
* ``--kind attachments``: attachment-heavy mail.  Short bodies, 1-3 ``$FILE`` items per
  document (50 KB - 5 MB, log-uniform; about every 150 MB of output one 40 MB file),
  each with a matching ``<attachmentref>`` in the body.  The attachment bytes are
  random (incompressible, like real PDFs/ZIPs) but cheap to make: a 1 MB random block
  repeated, after a per-file random 57-byte prefix so that every file's sha256
  differs.  Base64 is wrapped at 76 columns, as the Domino exporter writes it.

The output is deterministic for a given ``--seed``, ``--kind`` and ``--size-mb``
(1 MB = 10**6 bytes; the file ends after the first document that reaches the size), or
``--count`` (exactly that many documents, whatever their size).

    python benchmarks/make_dxl.py --kind text --size-mb 200 --out bench-data/text-200.dxl
    python benchmarks/make_dxl.py --kind plain --count 600 --seed 7 --out bench-data/plain-600.dxl
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import math
import os
import random
import sys
import time
from typing import BinaryIO

MB = 1_000_000
_FLUSH = 1 << 20

# Random attachment data: blocks of 57 * 18396 bytes (~1 MB); 57 bytes = one 76-column
# base64 line, so a block's wrapped base64 can be concatenated to any other whole lines.
_LINE_BYTES = 57
_BLOCK_LINES = 18396
_BLOCK = _LINE_BYTES * _BLOCK_LINES  # 1_048_572

_VOCAB = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there would their we him been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while last might us "
    "great old year off come since against go came right used take three meeting budget quarter forecast "
    "project deadline review proposal contract invoice customer supplier delivery schedule agenda minutes "
    "update status report draft final approval signature request follow-up reminder migration server "
    "database replica mailbox calendar archive policy security compliance audit training workshop Zürich "
    "Genève café résumé naïve Ærøskøbing São Paulo Kraków Łódź München straße déjà-vu façade coöperation "
    "R&D Q&A P&L 10% 25€ £300 ¥5000 2024 2025 #42 v1.2 e-mail on-site off-line kick-off hand-over"
).split()
_FIRST = ("Anna Bruno Carla David Elena Farid Greta Hugo Ines Jonas Karin Luca Maria Nils Olga Paul Quinn "
          "Rosa Stefan Tanja Ulrich Vera Walter Xenia Yusuf Zoe Chloé Jürgen Søren Ørjan").split()
_LAST = ("Keller Meier Rossi Dubois Novak Schmidt Weber Fischer Martin Bernard Moreau Laurent Costa Silva "
         "Nowak Kowalski Jensen Hansen Berg Lindqvist Müller Gómez Fernández O'Neil Brandt Vogel").split()
_OUS = ("Sales Finance HR IT Legal Marketing Support Research Logistics Board").split()
_FONTS = ("Default Sans Serif", "Arial", "Calibri", "Times New Roman", "Verdana")
_COLORS = ("red", "blue", "navy", "green", "#191919", "#c00000", "teal", "maroon")
_EXTS = ("pdf", "docx", "xlsx", "pptx", "zip", "png", "jpg", "msg", "csv", "txt")
_STEMS = ("report", "invoice", "contract", "minutes", "budget", "forecast", "photo", "scan", "offer",
          "presentation", "export", "backup", "specification", "timesheet", "Übersicht", "résumé")
# 1x1 GIF, standing in for the attachment icon Domino exports inside <attachmentref>.
_ICON = base64.b64encode(
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
).decode()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


def _wrap76(data: bytes) -> bytes:
    """Base64 of ``data`` in lines of 76 characters, each ending in a newline."""
    enc = base64.b64encode(data)
    return b"".join(enc[i:i + 76] + b"\n" for i in range(0, len(enc), 76))


class Generator:
    def __init__(self, out: BinaryIO, kind: str, size: int, seed: int, count: int | None = None) -> None:
        self.out = out
        self.kind = kind
        self.size = size
        self.count = count
        self.rng = random.Random(seed)
        self.written = 0
        self.buf: list[str] = []
        self.buf_len = 0
        self.docs = 0
        self.attachments = 0
        self.attachment_bytes = 0
        self.noteid = 0x8F6
        self.clock = dt.datetime(2023, 1, 2, 8, 0, 0)
        rng = self.rng
        self.people = [
            f"CN={rng.choice(_FIRST)} {rng.choice(_LAST)}/OU={rng.choice(_OUS)}/O=Acme"
            for _ in range(400)
        ]
        # Sentence pool: composing bodies from it is cheap and still varied.
        self.sentences = []
        for _ in range(6000):
            words = rng.choices(_VOCAB, k=rng.randint(6, 22))
            words[0] = words[0][:1].upper() + words[0][1:]
            self.sentences.append(_esc(" ".join(words)) + rng.choice((".", ".", ".", "?", "!", ":")))
        self.subjects = [_esc(" ".join(rng.choices(_VOCAB, k=rng.randint(3, 9))).capitalize()) for _ in range(3000)]
        if kind == "attachments":
            self.blocks = [rng.randbytes(_BLOCK) for _ in range(4)]
            self.wrapped = [_wrap76(b) for b in self.blocks]
        self.next_big = 50 * MB

    # -- output --------------------------------------------------------------
    def w(self, text: str) -> None:
        self.buf.append(text)
        self.buf_len += len(text)
        if self.buf_len >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            data = "".join(self.buf).encode("utf-8")
            self.out.write(data)
            self.written += len(data)
            self.buf.clear()
            self.buf_len = 0

    def wbytes(self, data: bytes) -> None:
        self.flush()
        self.out.write(data)
        self.written += len(data)

    # -- values ----------------------------------------------------------------
    def dt_text(self, when: dt.datetime) -> str:
        hundredths = self.rng.randint(0, 99)
        offset = "+02" if 4 <= when.month <= 9 else "+01"
        return f"{when:%Y%m%dT%H%M%S},{hundredths:02d}{offset}"

    def datetime_el(self, when: dt.datetime) -> str:
        dst = " dst='true'" if 4 <= when.month <= 9 else ""
        return f"<datetime{dst}>{self.dt_text(when)}</datetime>"

    def unid(self) -> str:
        return f"{self.rng.getrandbits(128):032X}"

    def text_run(self, sentences: int) -> str:
        return " ".join(self.rng.choices(self.sentences, k=sentences))

    # -- document --------------------------------------------------------------
    def header(self) -> None:
        rid = f"{self.rng.getrandbits(64):016X}"
        self.replica = rid
        self.w("<?xml version='1.0' encoding='utf-8'?>\n"
               "<!DOCTYPE database SYSTEM 'xmlschemas/domino_12_0.dtd'>\n"
               f"<database xmlns='http://www.lotus.com/dxl' version='12.0' maintenanceversion='1.0' "
               f"replicaid='{rid}' path='mail/bench{self.kind}.nsf' title='Benchmark mail ({self.kind})'>\n"
               f"<databaseinfo dbid='{rid}' odsversion='55' diskspace='{self.size}' percentused='98.5'>"
               f"<datamodified>{self.datetime_el(self.clock)}</datamodified>"
               f"<designmodified>{self.datetime_el(self.clock)}</designmodified></databaseinfo>\n")

    def footer(self) -> None:
        self.w("</database>\n")
        self.flush()

    def document(self) -> None:
        rng = self.rng
        self.docs += 1
        self.noteid += 4
        self.clock += dt.timedelta(minutes=rng.randint(1, 240), seconds=rng.randint(0, 59))
        posted = self.clock
        delivered = posted + dt.timedelta(seconds=rng.randint(1, 90))
        modified = delivered + dt.timedelta(minutes=rng.randint(0, 600))
        sender = rng.choice(self.people)
        to = rng.sample(self.people, rng.randint(1, 6))
        cc = rng.sample(self.people, rng.randint(0, 4))
        seq = rng.randint(1, 6)
        unid = self.unid()
        w = self.w
        w(f"<document form='Memo'>\n<noteinfo noteid='{self.noteid:x}' unid='{unid}' sequence='{seq}'>\n"
          f"<created>{self.datetime_el(posted)}</created>\n<modified>{self.datetime_el(modified)}</modified>\n"
          f"<revised>{self.datetime_el(modified)}</revised>\n<lastaccessed>{self.datetime_el(modified)}</lastaccessed>\n"
          f"<addedtofile>{self.datetime_el(delivered)}</addedtofile></noteinfo>\n"
          f"<updatedby><name>{_esc(sender)}</name><name>CN=Mail Router/O=Acme</name></updatedby>\n"
          f"<revisions>{self.datetime_el(delivered)}</revisions>\n")
        w("<item name='Form'><text>Memo</text></item>\n")
        w(f"<item name='From' names='true'><text>{_esc(sender)}</text></item>\n")
        w(f"<item name='Principal' names='true'><text>{_esc(sender)}</text></item>\n")
        w("<item name='SendTo' names='true'><textlist>" + "".join(f"<text>{_esc(p)}</text>" for p in to) + "</textlist></item>\n")
        if cc:
            w("<item name='CopyTo' names='true'><textlist>" + "".join(f"<text>{_esc(p)}</text>" for p in cc) + "</textlist></item>\n")
        else:
            w("<item name='CopyTo' names='true'><text/></item>\n")
        subject = rng.choice(self.subjects)
        if rng.random() < 0.3:
            subject = "Re: " + subject
        w(f"<item name='Subject'><text>{subject}</text></item>\n")
        w(f"<item name='PostedDate'>{self.datetime_el(posted)}</item>\n")
        w(f"<item name='DeliveredDate'>{self.datetime_el(delivered)}</item>\n")
        w(f"<item name='$MessageID'><text>&lt;OF{unid[:8]}.{unid[8:16]}-ON{unid[16:24]}.{unid[24:]}@acme.com&gt;</text></item>\n")
        cats = rng.sample(("Projects", "Finance", "Customers", "Travel", "HR", "Follow-up"), rng.randint(0, 2))
        if cats:
            w("<item name='Categories'><textlist>" + "".join(f"<text>{c}</text>" for c in cats) + "</textlist></item>\n")
        w(f"<item name='Importance'><text>{rng.choice('123')}</text></item>\n")
        w(f"<item name='$UpdatedBy' names='true'><text>{_esc(sender)}</text></item>\n")
        w("<item name='$Mailer'><text>Lotus Notes Release 9.0.1FP10 January 10, 2018</text></item>\n")

        files: list[tuple[str, int]] = []
        if self.kind == "attachments":
            n = rng.randint(1, 3)
            names: set[str] = set()
            for i in range(n):
                size = int(math.exp(rng.uniform(math.log(50_000), math.log(5_000_000))))
                if i == 0 and self.written >= self.next_big and self.written + 60 * MB <= self.size:
                    size = 40_000_000 + rng.randint(0, 999_999)
                    self.next_big += 150 * MB
                name = f"{rng.choice(_STEMS)}-{rng.randint(1, 9999)}.{rng.choice(_EXTS)}"
                while name in names:
                    name = "copy-" + name
                names.add(name)
                files.append((name, size))
        w(f"<item name='MessageSize'><number>{sum(s for _, s in files) + rng.randint(2000, 9000)}</number></item>\n")

        w("<item name='Body'><richtext>\n")
        if self.kind == "text":
            self.rich_body(rng.randint(2000, 8000))
        elif self.kind == "plain":
            self.plain_body()
        else:
            self.short_body(files)
        w("</richtext></item>\n")
        for name, size in files:
            self.file_item(name, size, posted)
        w("</document>\n")

    def rich_body(self, target: int) -> None:
        """Pardefs, styled runs, a bullet list, sometimes a table and a URL link."""
        rng, w = self.rng, self.w
        font = rng.choice(_FONTS)
        w("<pardef id='1'/>\n<pardef id='2' leftmargin='1in' spaceafter='1.5'/>\n")
        produced = 0
        list_done = table_done = link_done = False
        greeting = f"Hello {rng.choice(_FIRST)},"
        w(f"<par def='1'><run><font size='10pt' name='{font}'/>{greeting}</run></par>\n<par/>\n")
        while produced < target:
            roll = rng.random()
            if not list_done and produced > target * 0.3 and roll < 0.6:
                list_done = True
                w("<pardef id='3' leftmargin='1.2500in' list='bullet'/>\n")
                items = []
                for i in range(rng.randint(3, 7)):
                    par = "<par def='3'>" if i == 0 else "<par>"  # later pars inherit the pardef
                    items.append(f"{par}<run><font size='10pt' name='{font}'/>{self.text_run(1)}</run></par>\n")
                text = "".join(items)
            elif not table_done and produced > target * 0.5 and roll < 0.25:
                table_done = True
                cols = rng.randint(2, 4)
                rows = rng.randint(2, 4)
                width = f"{100 // cols}%"
                parts = ["<table widthtype='fitmargins' leftmargin='0' columnspacing='0.0313in' rowspacing='0.0313in'>"]
                parts.append("".join(f"<tablecolumn width='{width}'/>" for _ in range(cols)))
                for r in range(rows):
                    parts.append("\n<tablerow>")
                    for c in range(cols):
                        cell = rng.choice(self.subjects)
                        style = " style='bold'" if r == 0 else ""
                        bg = " bgcolor='#e0e0e0'" if r == 0 else ""
                        parts.append(f"<tablecell borderwidth='1px'{bg}><pardef id='{10 + r * cols + c}'/>"
                                     f"<par def='{10 + r * cols + c}'><run><font size='9pt'{style} name='{font}'/>"
                                     f"{cell}</run></par></tablecell>")
                    parts.append("</tablerow>")
                parts.append("</table>\n")
                text = "".join(parts)
            elif not link_done and roll < 0.12:
                link_done = True
                host = rng.choice(("intranet.acme.com", "www.example.org", "wiki.acme.com"))
                text = (f"<par def='2'><run><font size='10pt' name='{font}'/>{self.text_run(1)} See </run>"
                        f"<urllink showborder='false' href='https://{host}/docs/{rng.randint(1, 99999)}?lang=en&amp;v=2'>"
                        f"<run><font size='10pt' color='blue' style='underline' name='{font}'/>{host}</run></urllink>"
                        f"<run><font size='10pt' name='{font}'/> for details.</run></par>\n")
            else:
                runs = []
                for _ in range(rng.randint(1, 4)):
                    style = rng.random()
                    if style < 0.15:
                        attrs = " style='bold'"
                    elif style < 0.25:
                        attrs = f" color='{rng.choice(_COLORS)}'"
                    elif style < 0.3:
                        attrs = f" style='bold italic' color='{rng.choice(_COLORS)}'"
                    else:
                        attrs = ""
                    runs.append(f"<run><font size='10pt'{attrs} name='{font}'/>{self.text_run(rng.randint(1, 3))} </run>")
                brk = "<break/>" if rng.random() < 0.2 else ""
                text = f"<par def='{rng.choice('12')}'>" + brk.join(runs) + "</par>\n"
            w(text)
            produced += len(text)
        w(f"<par def='1'><run><font size='10pt' name='{font}'/>Best regards,<break/>{rng.choice(_FIRST)}</run></par>\n")

    def plain_body(self) -> None:
        """A short unstyled body: a greeting, 1-3 paragraphs of 1-3 sentences, a signature."""
        rng, w = self.rng, self.w
        font = rng.choice(_FONTS)
        w(f"<pardef id='1'/>\n<par def='1'><run><font size='10pt' name='{font}'/>Hello {rng.choice(_FIRST)},</run></par>\n")
        for _ in range(rng.randint(1, 3)):
            w(f"<par def='1'><run><font size='10pt' name='{font}'/>{self.text_run(rng.randint(1, 3))}</run></par>\n")
        w(f"<par def='1'><run><font size='10pt' name='{font}'/>Regards,<break/>{rng.choice(_FIRST)}</run></par>\n")

    def short_body(self, files: list[tuple[str, int]]) -> None:
        rng, w = self.rng, self.w
        font = rng.choice(_FONTS)
        w("<pardef id='1'/>\n")
        for _ in range(rng.randint(1, 3)):
            w(f"<par def='1'><run><font size='10pt' name='{font}'/>{self.text_run(rng.randint(1, 3))}</run></par>\n")
        for name, _size in files:
            n = _esc(name)
            w(f"<par def='1'><attachmentref name='{n}' displayname='{n}'><picture height='34px' width='71px'>"
              f"<gif originalformat='notesbitmap'>{_ICON}</gif><caption>{n}</caption></picture></attachmentref></par>\n")

    def file_item(self, name: str, size: int, when: dt.datetime) -> None:
        rng = self.rng
        self.attachments += 1
        self.attachment_bytes += size
        n = _esc(name)
        self.w(f"<item name='$FILE' summary='true' sign='true' seal='true'><object><file hosttype='msdos' "
               f"compression='none' flags='storedindoc' encoding='none' name='{n}' size='{size}'>\n"
               f"<created>{self.datetime_el(when)}</created>\n"
               f"<modified>{self.datetime_el(when - dt.timedelta(days=rng.randint(0, 400)))}</modified>\n"
               "<filedata>\n")
        self.flush()
        # prefix line (unique per file) + whole blocks + a partial block
        prefix = rng.randbytes(_LINE_BYTES)
        k = rng.randrange(len(self.blocks))
        block, wrapped = self.blocks[k], self.wrapped[k]
        self.wbytes(_wrap76(prefix))
        body = size - _LINE_BYTES
        full, rem = divmod(body, _BLOCK)
        for _ in range(full):
            self.wbytes(wrapped)
        lines, tail = divmod(rem, _LINE_BYTES)
        part = wrapped[: lines * 77]
        if tail:
            part += _wrap76(block[lines * _LINE_BYTES: lines * _LINE_BYTES + tail])
        self.wbytes(part)
        self.w("</filedata></file></object></item>\n")

    def run(self) -> None:
        self.header()
        if self.count is not None:
            while self.docs < self.count:
                self.document()
        else:
            while self.written + self.buf_len < self.size:
                self.document()
        self.footer()


def generate(out_path: str, kind: str, size_mb: float | None, seed: int = 1, quiet: bool = False,
             count: int | None = None) -> dict:
    """Write the file (via a temporary name, renamed when complete); return what it holds.

    ``count``: exactly that many documents (``size_mb`` is then ignored and may be None)."""
    if count is None and size_mb is None:
        raise ValueError("generate() needs size_mb or count")
    tmp = out_path + ".part"
    t0 = time.perf_counter()
    with open(tmp, "wb", buffering=0) as out:
        gen = Generator(out, kind, int((size_mb or 0) * MB), seed, count)
        gen.run()
    os.replace(tmp, out_path)
    info = {
        "path": out_path, "kind": kind, "seed": seed, "bytes": gen.written, "documents": gen.docs,
        "attachments": gen.attachments, "attachment_bytes": gen.attachment_bytes,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if not quiet:
        print(f"wrote {out_path}: {gen.written / MB:.1f} MB, {gen.docs} documents, "
              f"{gen.attachments} attachments ({gen.attachment_bytes / MB:.1f} MB decoded) "
              f"in {info['seconds']} s", file=sys.stderr)
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("text", "attachments", "plain"), required=True)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--size-mb", type=float, help="target size in MB (10**6 bytes)")
    size.add_argument("--count", type=int, help="exactly this many documents")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    generate(args.out, args.kind, args.size_mb, args.seed, count=args.count)


if __name__ == "__main__":
    main()
