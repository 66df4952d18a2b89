#!/usr/bin/env python3
"""wellformed.py FILE...: every file must parse as XML (xml.etree: SVG and the
XHTML-clean report.html) and, when it is .html, as HTML with balanced tags
(html.parser); in SVG, coordinates are finite numbers and path data only
commands and numbers.  Prints one line per file; exit status 1 on any
failure."""
import html.parser
import math
import re
import sys
import xml.etree.ElementTree as ET

NUMERIC = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height"}
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "track", "embed", "param"}
SVGNS = "{http://www.w3.org/2000/svg}"


class Balance(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.in_svg = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()


def check_svg(root, where):
    bad = []
    for el in root.iter():
        tag = el.tag.replace(SVGNS, "")
        for k, v in el.attrib.items():
            if k in NUMERIC:
                try:
                    if not math.isfinite(float(v)):
                        bad.append("%s: <%s %s=%r> not finite" % (where, tag, k, v))
                except ValueError:
                    bad.append("%s: <%s %s=%r> not a number" % (where, tag, k, v))
            if k == "d" and tag == "path" and not re.fullmatch(r"[MLml0-9. \-]*", v):
                bad.append("%s: path data %r" % (where, v[:80]))
    return bad


def main():
    failed = 0
    for path in sys.argv[1:]:
        text = open(path, encoding="utf-8").read()
        problems = []
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as e:
            problems.append("not well-formed XML: %s" % e)
            root = None
        if root is not None:
            if path.endswith(".svg"):
                if root.tag != SVGNS + "svg":
                    problems.append("root is %s, not svg" % root.tag)
                problems += check_svg(root, path)
            else:
                for svg in root.iter(SVGNS + "svg"):
                    problems += check_svg(svg, path)
        if path.endswith(".html"):
            p = Balance()
            p.feed(text)
            p.close()
            problems += p.errors[:5]
            if p.stack:
                problems.append("unclosed: %s" % p.stack)
        print("%s %s%s" % ("ok  " if not problems else "BAD ", path, "".join("\n    " + q for q in problems[:8])))
        failed += bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
