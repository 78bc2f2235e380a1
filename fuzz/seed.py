#!/usr/bin/env python3
"""Writes small valid seed inputs for every fuzz target into fuzz/corpus/extract_<format>/.

Usage: python3 fuzz/seed.py [PDF_DIR]

Seeds come from ingest/tests/fixtures and from hand-written documents below; PDF_DIR
adds its PDFs of at most 100 KB. Records seeds start with the selector byte their
target reads (see fuzz_targets/records.rs); the others are plain files.
"""
import io
import pathlib
import sys
import zipfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parent
FIXTURES = ROOT.parent / "ingest" / "tests" / "fixtures"
CORPUS = ROOT / "corpus"


def put(target, name, data):
    target = "extract_" + target
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def pdf(objects):
    """A PDF with a correct xref table; objects are bodies of 1 0 obj, 2 0 obj, ..."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(out)


def stream(data, extra=b"", flate=False):
    if flate:
        data = zlib.compress(data)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def pdf_seeds():
    content = b"BT /F1 12 Tf 72 720 Td (Hello, world.) Tj 0 -14 Td [(Kern)-250(ed)] TJ T* (Next line) ' ET"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    info = b"<< /Title (A title) /Author <FEFF0041> >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
    yield "plain.pdf", pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        font,
        stream(content),
        page,
        info,
    ])
    yield "flate.pdf", pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        font,
        stream(content, flate=True),
        page,
        info,
    ])
    cmap = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Adobe-Identity-UCS def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0001> <0048> <0002> <00650301> endbfchar
1 beginbfrange <0010> <0020> <0061> endbfrange
1 beginbfrange <0030> <0031> [<0041> <0042>] endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end"""
    yield "cmap.pdf", pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /ToUnicode 7 0 R /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /W [1 [500 600] 16 32 400] >>] >>",
        stream(b"BT /F1 10 Tf 50 700 Td <000100020010001100300031> Tj ET q 1 0 0 1 0 0 cm /X1 Do Q"),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> /XObject << /X1 8 0 R >> >> >>",
        info,
        stream(cmap),
        stream(b"BT /F1 9 Tf 10 10 Td <0001> Tj ET", b" /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /Font << /F1 3 0 R >> >>"),
    ])
    # A cross-reference stream with an object stream.
    body3 = b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding << /Differences [65 /B /C] >> >>"
    body4 = b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
    offs = b"3 0 4 %d " % (len(body3) + 1)
    objstm = offs + body3 + b" " + body4
    out = bytearray(b"%PDF-1.5\n")
    offsets = {}
    def add(num, body):
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>")
    add(5, stream(b"BT /F1 11 Tf 1 0 0 1 72 700 Tm (ABC in a stream) Tj ET", flate=True))
    add(6, stream(objstm, b" /Type /ObjStm /N 2 /First %d" % len(offs), flate=True))
    rows = []
    for n in range(0, 8):
        if n == 0:
            rows.append(b"\x00\x00\x00\x00\xff\xff")
        elif n in (3, 4):
            rows.append(bytes([2]) + (6).to_bytes(4, "big") + (n - 3).to_bytes(1, "big"))
        elif n in offsets:
            rows.append(bytes([1]) + offsets[n].to_bytes(4, "big") + b"\x00")
        else:
            rows.append(b"\x00\x00\x00\x00\x00\x00")
    xref_at = len(out)
    rows.append(bytes([1]) + xref_at.to_bytes(4, "big") + b"\x00")
    data = b"".join(rows)
    add(7, stream(data, b" /Type /XRef /Size 8 /W [1 4 1] /Root 1 0 R", flate=True))
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[7]
    yield "xrefstream.pdf", bytes(out)


def docx(body, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + "</w:body></w:document>")
        z.writestr("docProps/core.xml", '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Seed &amp; title</dc:title><dc:creator>Someone</dc:creator></cp:coreProperties>')
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def docx_seeds():
    yield "simple.docx", docx('<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Heading</w:t></w:r></w:p><w:p><w:r><w:t xml:space="preserve">Some </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>bold</w:t></w:r><w:r><w:tab/><w:t>text&amp;more</w:t><w:br/></w:r></w:p>')
    yield "table.docx", docx('<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b1</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p><w:pPr><w:pStyle w:val="Heading2"/><w:numPr><w:ilvl w:val="0"/></w:numPr></w:pPr><w:r><w:t>Sub</w:t></w:r></w:p><w:p><w:hyperlink r:id="rId5"><w:r><w:t>link</w:t></w:r></w:hyperlink><w:r><w:footnoteReference w:id="1"/></w:r></w:p>',
        {"word/styles.xml": '<?xml version="1.0"?><w:styles xmlns:w="x"><w:style w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>',
         "word/footnotes.xml": '<?xml version="1.0"?><w:footnotes xmlns:w="x"><w:footnote w:id="1"><w:p><w:r><w:t>A note.</w:t></w:r></w:p></w:footnote></w:footnotes>'})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("word/document.xml", '<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>stored &#x41;&lt;</w:t></w:r></w:p></w:body></w:document>')
    yield "stored.docx", buf.getvalue()


HTML = [
    ("basic.html", "<!DOCTYPE html><html><head><title>A &amp; B</title><meta name=description content='d'><style>p{}</style><script>var x='<p>';</script></head><body><h1>Top</h1><p>Para <b>bold</b> &eacute;&#233;&#x1F600;<br>next</p><h2 id=x>Sub</h2><ul><li>one<li>two</ul><table><tr><td>c1<td>c2</table><pre>  pre\n text</pre><!-- comment --><a href='#'>link</a></body></html>"),
    ("broken.html", "<html><body><div><p>unclosed <i>nesting <b>tags</p></div><h3>Heading <em>in</em> parts</h3><![CDATA[ x ]]><?pi?><textarea><p></textarea><noscript>n</noscript><img alt=alt src=x>"),
]

MD = [
    ("basic.md", "---\ntitle: Front matter\ntags: [a, b]\n---\n# Title\n\nSome *emphasis* and `code` and [a link](http://x \"t\").\n\n## Section\n\n- item\n  - nested\n1. one\n\n> quote\n> > deeper\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nSetext\n======\n\n<div>html</div>\n\n[ref]: http://y\n![img](x.png)\n"),
    ("deep.md", "# A\n## B\n### C\n#### D\n##### E\n###### F\ntext\n\n    indented code\n\nline with trailing spaces  \nhard break\\\nend ~~strike~~ [^1]\n\n[^1]: footnote\n"),
]

EMAIL = [
    ("plain.eml", "From: A <a@example.com>\r\nTo: b@example.com\r\nSubject: =?UTF-8?B?SGVsbG8gw6k=?=\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 =\r\nsoft break.\r\n"),
    ("nested.eml", "From: x@y\nSubject: folded\n subject line\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\npreamble\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\nplain part\n--inner\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\nPHA+aHRtbCBwYXJ0PC9wPg==\n--inner--\n--outer\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--outer\nContent-Type: application/octet-stream; name=a.bin\nContent-Disposition: attachment; filename=a.bin\n\nAAAA\n--outer--\nepilogue\n"),
]

RECORDS = [
    # selector byte: see fuzz_targets/records.rs
    ("csv_quoted", 0, 'id,title,text,extra\n1,"A, title","multi\nline ""quoted""",x\n2,,plain,\n3,short\n'),
    ("tsv", 1, "label\ttext\nham\tSee \"you\"\nspam\tWIN\tx\n"),
    ("jsonl", 2, '{"id":"a","title":"T","body":"B","meta":{"x":[1,2]},"n":null}\n\n{"id":"b","body":"\\u00e9 more"}\n'),
    ("sniff_csv", 3, "review,stars\n\"good\",5\n\xef\xbb\xbf"),
    ("csv_html", 4, "text\n\"<p>Hi &amp; <br/>bye</p>\"\n"),
    ("csv_semicolon", 8, "text;title\nbody;t\n"),
]


def main():
    for f in FIXTURES.iterdir():
        data = f.read_bytes()
        ext = f.suffix.lower()
        target = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".md": "markdown", ".eml": "email", ".txt": "text"}.get(ext)
        if target:
            put(target, "fixture_" + f.name, data)
        elif ext in (".csv", ".tsv", ".jsonl"):
            sel = {".csv": 0, ".tsv": 1, ".jsonl": 2}[ext]
            put("records", "fixture_" + f.name, bytes([sel]) + data)
    for name, data in pdf_seeds():
        put("pdf", name, data)
    if len(sys.argv) > 1:
        for f in sorted(pathlib.Path(sys.argv[1]).glob("*.pdf")):
            if f.stat().st_size <= 100_000:
                put("pdf", "shared_" + f.name, f.read_bytes())
    for name, data in docx_seeds():
        put("docx", name, data)
    for name, data in HTML:
        put("html", name, data)
    for name, data in MD:
        put("markdown", name, data)
    for name, data in EMAIL:
        put("email", name, data)
    put("text", "utf8.txt", "Plain text, caf\u00e9.\r\nSecond line\f\n\n\tPara\u2028two\n")
    put("text", "utf16be.txt", "\ufeffUTF-16 big endian\n".encode("utf-16-be"))
    # libFuzzer's default input size cap is the largest seed: one larger seed per
    # format lets inputs grow to ~16 KB.
    words = " ".join("word%d" % i for i in range(1500))
    put("markdown", "long.md", "".join("%s Heading %d\n\n%s\n\n- %s\n\n" % ("#" * (i % 6 + 1), i, words[: 300 + i * 7], words[:80]) for i in range(40)))
    put("html", "long.html", "<html><head><title>Long</title></head><body>" + "".join("<h%d>H %d</h%d><p>%s</p><table><tr><td>%d</td></tr></table>" % (i % 6 + 1, i, i % 6 + 1, words[: 300 + i * 7], i) for i in range(40)) + "</body></html>")
    put("email", "long.eml", "From: a@b\nSubject: long\nContent-Type: multipart/mixed; boundary=b\n\n" + "".join("--b\nContent-Type: text/plain\n\n%s\n" % words[: 300 + i * 7] for i in range(30)) + "--b--\n")
    put("records", "long_csv", b"\x00" + ("id,title,text\n" + "".join('%d,"t %d","%s"\n' % (i, i, words[: 100 + i * 5]) for i in range(60))).encode())
    put("records", "long_jsonl", b"\x02" + "".join('{"id":%d,"text":"%s","m":{"a":[%d]}}\n' % (i, words[: 100 + i * 5], i) for i in range(60)).encode())
    for name, sel, data in RECORDS:
        put("records", name, bytes([sel]) + data.encode("utf-8", "surrogateescape"))


if __name__ == "__main__":
    main()
