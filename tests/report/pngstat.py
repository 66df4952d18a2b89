#!/usr/bin/env python3
"""pngstat.py PNG: decode an 8-bit RGB/RGBA PNG (no libraries) and print
width, height, the standard deviation of the grey level, the fraction of
pixels that are not (near) white and the number of distinct colours, as
key=value pairs.  Used by tests/test_report.sh to tell a rendered page from
a blank one."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("%s: not a PNG" % path)
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit("%s: only 8-bit RGB/RGBA, not interlaced (depth %d, colour type %d)" % (path, depth, ctype))
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif f == 2:
            cur = bytearray((a + b) & 255 for a, b in zip(cur, prev))
        elif f == 3:
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pr) & 255
        rows.append(cur)
        prev = cur
    return w, h, bpp, rows


def main():
    w, h, bpp, rows = decode(sys.argv[1])
    n = s = s2 = ink = 0
    colours = set()
    for y in range(0, h, 2):  # every other row and column: plenty for statistics
        r = rows[y]
        for x in range(0, w * bpp, 2 * bpp):
            R, G, B = r[x], r[x + 1], r[x + 2]
            g = (R * 299 + G * 587 + B * 114) // 1000
            n += 1
            s += g
            s2 += g * g
            ink += g < 235
            if len(colours) < 5000:
                colours.add((R, G, B))
    mean = s / n
    sd = max(0.0, s2 / n - mean * mean) ** 0.5
    print("width=%d height=%d grey_sd=%.2f ink=%.4f colours=%d" % (w, h, sd, ink / n, len(colours)))


if __name__ == "__main__":
    main()
