#!/usr/bin/env python3
"""check_dom.py DOM.html PLOTDIR [--sorted KEY]: checks on the DOM that headless
Chromium dumped after loading PLOTDIR/report.html (what a person's browser
shows): one inline <svg> per PLOTDIR/*.svg, each with a title and drawn
content (path/rect/circle/line elements, and lines or cells that are not all
empty); the report's sections in order (runs: Settings, Outcome, Figures;
sweeps: Figures, Points).  --sorted KEY: the points table was sorted by the
page's script (report.html#sort=KEY): its data-sorted attribute says so and
the numbers of that column are in order."""
import glob
import html.parser
import os
import sys


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.svgs, self.cur, self.h2, self.table, self.rows, self.row, self.cell = [], None, [], None, [], None, None
        self.heads, self.in_h2, self.text = [], False, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.cur = {"title": False, "shapes": 0, "paths": 0, "cells": 0}
            self.svgs.append(self.cur)
        elif self.cur is not None:
            if tag == "title":
                self.cur["title"] = True
            if tag in ("path", "rect", "circle", "line"):
                self.cur["shapes"] += 1
            if tag == "path" and len(a.get("d", "")) > 10:
                self.cur["paths"] += 1
            if tag == "rect" and a.get("fill", "") not in ("", "none", "#ffffff"):
                self.cur["cells"] += 1
        if tag == "h2":
            self.in_h2, self.text = True, ""
        if tag == "table" and a.get("id") == "points-table":
            self.table = a
        if self.table is not None and tag == "tr":
            self.row = []
        if self.table is not None and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "svg":
            self.cur = None
        if tag == "h2":
            self.in_h2 = False
            self.h2.append(self.text.strip())
        if self.table is not None and tag in ("td", "th") and self.row is not None:
            self.row.append((tag, self.cell.strip()))
            self.cell = None
        if self.table is not None and tag == "tr" and self.row is not None:
            if all(t == "th" for t, _ in self.row):
                self.heads = [c for _, c in self.row]
            else:
                self.rows.append([c for _, c in self.row])
            self.row = None
        if tag == "table":
            self.table = self.table if self.table is None else None

    def handle_data(self, d):
        if self.in_h2:
            self.text += d
        if self.cell is not None:
            self.cell += d


def main():
    dom_path, plotdir = sys.argv[1], sys.argv[2]
    key = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--sorted" else None
    text = open(dom_path, encoding="utf-8", errors="replace").read()
    d = Dom()
    d.feed(text)
    bad = []
    nfiles = len(glob.glob(os.path.join(plotdir, "*.svg")))
    if len(d.svgs) != nfiles:
        bad.append("%d <svg> in the page, %d .svg files" % (len(d.svgs), nfiles))
    for i, s in enumerate(d.svgs):
        if not s["title"] or s["shapes"] < 5 or (s["paths"] == 0 and s["cells"] < 2):
            bad.append("svg %d looks empty: %s" % (i + 1, s))
    want = ["Figures", "Points"] if key is not None or "Points" in " ".join(d.h2) else ["Settings", "Outcome", "Figures"]
    got = [h for h in d.h2 if h.split(" ")[0] in want]
    if [g.split(" ")[0] for g in got] != want:
        bad.append("sections %s, expected %s in this order" % (d.h2, want))
    if key is not None:
        col = d.heads.index(next(h for h in d.heads if h.startswith(key.lstrip("-"))))
        if ('data-sorted="%s"' % key) not in text:
            bad.append("the table is not marked data-sorted=%s" % key)
        vals = []
        for r in d.rows:
            try:
                v = float(r[col])
                if v == v:
                    vals.append(v)
            except ValueError:
                pass
        want_order = sorted(vals, reverse=key.startswith("-"))
        if vals != want_order or len(vals) < 2:
            bad.append("column %s not sorted: %s" % (key, vals))
    print("%s: %d svg, sections %s%s" % (dom_path, len(d.svgs), d.h2, "".join("\n  BAD " + b for b in bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
