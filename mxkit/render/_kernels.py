"""numba kernels of mxkit's CPU rasterizer (internal; imported lazily by :mod:`.raster`).

All kernels are ``nogil`` so that :func:`mxkit.render.render_batch` can run frames on several
threads, and ``cache=True`` so that compiled code is reused across processes (numba stores it
beside this file, or in its user-wide cache directory when the package is read-only; when no
cache location is writable at all, the kernels are compiled per process instead).

Every kernel is always called with the same argument types (float64 positions, int32 faces,
float32 buffers, Python bools and floats), so each compiles exactly once.

Rasterization rules
-------------------
* Pixel (row r, col c) is sampled at its centre ``(u, v) = (c, r)``.
* Coverage uses edge functions evaluated in float64 with a *canonical* vertex order per edge
  (lexicographic on (u, v)), so two triangles sharing an edge compute bit-identical values
  of opposite sign there; a sample exactly on an edge belongs to the triangle for which that
  edge is a *top* or *left* edge (Direct3D's top-left rule in a y-down image). Two triangles
  sharing an edge therefore cover every sample once: no gaps, no double coverage.
* The z-test keeps the smaller depth (rounded to float32); ties keep the earlier face, so the
  result is deterministic.
"""

from __future__ import annotations

import math

import numba
import numpy as np


def _jit(fn):
    """``numba.njit(cache=True, nogil=True)``, without the cache when no location is writable."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)


@_jit
def _edge(ax, ay, bx, by, orient):
    """Canonical edge a->b: returns (ax, ay, dx, dy, sign, top_left).

    ``w(p) = sign * (dx * (p.y - ay) - dy * (p.x - ax))`` is positive inside the triangle.
    """
    if bx < ax or (bx == ax and by < ay):
        tx = ax
        ty = ay
        ax = bx
        ay = by
        bx = tx
        by = ty
        s = -orient
    else:
        s = orient
    dx = bx - ax
    dy = by - ay
    ga = -s * dy  # d w / d x: the inward normal's x component
    gb = s * dx  # d w / d y: the inward normal's y component (y down)
    tl = ga > 0.0 or (ga == 0.0 and gb > 0.0)
    return ax, ay, dx, dy, s, tl


@_jit
def rasterize_into(verts, faces, perspective, near, cull, zbuf, fid, bary):
    """Z-buffer rasterization of ``faces`` with screen-space ``verts`` [u, v, depth].

    ``zbuf`` (H, W) float32, ``fid`` (H, W) int32 and ``bary`` (H, W, 3) float32 are
    overwritten. Triangles with a vertex at depth <= ``near`` are skipped; ``perspective``
    turns on perspective-correct barycentrics and depth (1/z interpolated linearly).
    ``cull`` drops back faces: front faces are counter-clockwise as seen on screen, i.e. have
    negative signed area in (u, v) with v pointing down.
    """
    H = zbuf.shape[0]
    W = zbuf.shape[1]
    inf32 = np.float32(np.inf)
    for y in range(H):
        for x in range(W):
            zbuf[y, x] = inf32
            fid[y, x] = -1
            bary[y, x, 0] = 0.0
            bary[y, x, 1] = 0.0
            bary[y, x, 2] = 0.0
    for f in range(faces.shape[0]):
        i0 = faces[f, 0]
        i1 = faces[f, 1]
        i2 = faces[f, 2]
        x0 = verts[i0, 0]
        y0 = verts[i0, 1]
        z0 = verts[i0, 2]
        x1 = verts[i1, 0]
        y1 = verts[i1, 1]
        z1 = verts[i1, 2]
        x2 = verts[i2, 0]
        y2 = verts[i2, 1]
        z2 = verts[i2, 2]
        if not (z0 > near and z1 > near and z2 > near):
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if not (area > 0.0 or area < 0.0):  # degenerate or NaN
            continue
        if cull and area > 0.0:
            continue
        orient = 1.0 if area > 0.0 else -1.0
        fxmin = max(min(x0, min(x1, x2)), -1.0)
        fxmax = min(max(x0, max(x1, x2)), float(W))
        fymin = max(min(y0, min(y1, y2)), -1.0)
        fymax = min(max(y0, max(y1, y2)), float(H))
        xmin = max(int(math.ceil(fxmin)), 0)
        xmax = min(int(math.floor(fxmax)), W - 1)
        ymin = max(int(math.ceil(fymin)), 0)
        ymax = min(int(math.floor(fymax)), H - 1)
        if xmin > xmax or ymin > ymax:
            continue
        ax0, ay0, dx0, dy0, s0, tl0 = _edge(x1, y1, x2, y2, orient)  # weight of vertex 0
        ax1, ay1, dx1, dy1, s1, tl1 = _edge(x2, y2, x0, y0, orient)  # weight of vertex 1
        ax2, ay2, dx2, dy2, s2, tl2 = _edge(x0, y0, x1, y1, orient)  # weight of vertex 2
        for y in range(ymin, ymax + 1):
            py = float(y)
            for x in range(xmin, xmax + 1):
                px = float(x)
                w0 = s0 * (dx0 * (py - ay0) - dy0 * (px - ax0))
                if w0 < 0.0 or (w0 == 0.0 and not tl0):
                    continue
                w1 = s1 * (dx1 * (py - ay1) - dy1 * (px - ax1))
                if w1 < 0.0 or (w1 == 0.0 and not tl1):
                    continue
                w2 = s2 * (dx2 * (py - ay2) - dy2 * (px - ax2))
                if w2 < 0.0 or (w2 == 0.0 and not tl2):
                    continue
                ws = w0 + w1 + w2
                if not ws > 0.0:
                    continue
                b0 = w0 / ws
                b1 = w1 / ws
                b2 = w2 / ws
                if perspective:
                    q0 = b0 / z0
                    q1 = b1 / z1
                    q2 = b2 / z2
                    qs = q0 + q1 + q2
                    z = 1.0 / qs
                    b0 = q0 * z
                    b1 = q1 * z
                    b2 = q2 * z
                else:
                    z = b0 * z0 + b1 * z1 + b2 * z2
                zf = np.float32(z)
                if zf < zbuf[y, x]:
                    zbuf[y, x] = zf
                    fid[y, x] = f
                    bary[y, x, 0] = b0
                    bary[y, x, 1] = b1
                    bary[y, x, 2] = b2


@_jit
def vertex_normals_into(pos, faces, out):
    """Area-weighted unit vertex normals (zero for vertices in no non-degenerate face)."""
    V = pos.shape[0]
    for v in range(V):
        out[v, 0] = 0.0
        out[v, 1] = 0.0
        out[v, 2] = 0.0
    for f in range(faces.shape[0]):
        i0 = faces[f, 0]
        i1 = faces[f, 1]
        i2 = faces[f, 2]
        ax = pos[i1, 0] - pos[i0, 0]
        ay = pos[i1, 1] - pos[i0, 1]
        az = pos[i1, 2] - pos[i0, 2]
        bx = pos[i2, 0] - pos[i0, 0]
        by = pos[i2, 1] - pos[i0, 1]
        bz = pos[i2, 2] - pos[i0, 2]
        nx = ay * bz - az * by
        ny = az * bx - ax * bz
        nz = ax * by - ay * bx
        for i in (i0, i1, i2):
            out[i, 0] += nx
            out[i, 1] += ny
            out[i, 2] += nz
    for v in range(V):
        n = math.sqrt(out[v, 0] ** 2 + out[v, 1] ** 2 + out[v, 2] ** 2)
        if n > 0.0:
            out[v, 0] /= n
            out[v, 1] /= n
            out[v, 2] /= n


@_jit
def _sample_bilinear(tex, u, v, c):
    """Bilinear lookup of channel ``c`` at UV (u right, v up; clamp-to-edge addressing)."""
    Ht = tex.shape[0]
    Wt = tex.shape[1]
    x = u * Wt - 0.5
    y = (1.0 - v) * Ht - 0.5
    xf = math.floor(x)
    yf = math.floor(y)
    ax = x - xf
    ay = y - yf
    xi = int(xf)
    yi = int(yf)
    xa = min(max(xi, 0), Wt - 1)
    xb = min(max(xi + 1, 0), Wt - 1)
    ya = min(max(yi, 0), Ht - 1)
    yb = min(max(yi + 1, 0), Ht - 1)
    top = (1.0 - ax) * tex[ya, xa, c] + ax * tex[ya, xb, c]
    bot = (1.0 - ax) * tex[yb, xa, c] + ax * tex[yb, xb, c]
    return (1.0 - ay) * top + ay * bot


@_jit
def shade_into(fid, bary, faces, pos, nrm, mode, vcol, uv, fuv, tex, const, ldir, amb, dif,
               spe, shininess, ortho, cam, bg, out):
    """Ambient + Lambert (+ Phong specular) shading of rasterized fragments into ``out``.

    ``mode``: 0 constant albedo ``const``, 1 per-vertex ``vcol``, 2 texture ``tex`` via ``uv`` /
    ``fuv``. ``cam`` is the camera centre (perspective) or the unit direction toward the
    camera (orthographic). Colours are clipped to [0, 1]; background pixels get ``bg``.
    """
    H = fid.shape[0]
    W = fid.shape[1]
    lx = ldir[0]
    ly = ldir[1]
    lz = ldir[2]
    has_spec = spe[0] > 0.0 or spe[1] > 0.0 or spe[2] > 0.0
    for y in range(H):
        for x in range(W):
            f = fid[y, x]
            if f < 0:
                out[y, x, 0] = bg[0]
                out[y, x, 1] = bg[1]
                out[y, x, 2] = bg[2]
                continue
            b0 = float(bary[y, x, 0])
            b1 = float(bary[y, x, 1])
            b2 = float(bary[y, x, 2])
            i0 = faces[f, 0]
            i1 = faces[f, 1]
            i2 = faces[f, 2]
            nx = b0 * nrm[i0, 0] + b1 * nrm[i1, 0] + b2 * nrm[i2, 0]
            ny = b0 * nrm[i0, 1] + b1 * nrm[i1, 1] + b2 * nrm[i2, 1]
            nz = b0 * nrm[i0, 2] + b1 * nrm[i1, 2] + b2 * nrm[i2, 2]
            nn = math.sqrt(nx * nx + ny * ny + nz * nz)
            if nn > 0.0:
                nx /= nn
                ny /= nn
                nz /= nn
            if mode == 0:
                ar = const[0]
                ag = const[1]
                ab = const[2]
            elif mode == 1:
                ar = b0 * vcol[i0, 0] + b1 * vcol[i1, 0] + b2 * vcol[i2, 0]
                ag = b0 * vcol[i0, 1] + b1 * vcol[i1, 1] + b2 * vcol[i2, 1]
                ab = b0 * vcol[i0, 2] + b1 * vcol[i1, 2] + b2 * vcol[i2, 2]
            else:
                t0 = fuv[f, 0]
                t1 = fuv[f, 1]
                t2 = fuv[f, 2]
                tu = b0 * uv[t0, 0] + b1 * uv[t1, 0] + b2 * uv[t2, 0]
                tv = b0 * uv[t0, 1] + b1 * uv[t1, 1] + b2 * uv[t2, 1]
                ar = _sample_bilinear(tex, tu, tv, 0)
                ag = _sample_bilinear(tex, tu, tv, 1)
                ab = _sample_bilinear(tex, tu, tv, 2)
            ndl = nx * lx + ny * ly + nz * lz
            lam = ndl if ndl > 0.0 else 0.0
            r = ar * (amb[0] + dif[0] * lam)
            g = ag * (amb[1] + dif[1] * lam)
            b = ab * (amb[2] + dif[2] * lam)
            if has_spec and ndl > 0.0:
                if ortho:
                    vx = cam[0]
                    vy = cam[1]
                    vz = cam[2]
                else:
                    vx = cam[0] - (b0 * pos[i0, 0] + b1 * pos[i1, 0] + b2 * pos[i2, 0])
                    vy = cam[1] - (b0 * pos[i0, 1] + b1 * pos[i1, 1] + b2 * pos[i2, 1])
                    vz = cam[2] - (b0 * pos[i0, 2] + b1 * pos[i1, 2] + b2 * pos[i2, 2])
                    vn = math.sqrt(vx * vx + vy * vy + vz * vz)
                    if vn > 0.0:
                        vx /= vn
                        vy /= vn
                        vz /= vn
                # Phong: reflect the light direction about the normal.
                rx = 2.0 * ndl * nx - lx
                ry = 2.0 * ndl * ny - ly
                rz = 2.0 * ndl * nz - lz
                rv = rx * vx + ry * vy + rz * vz
                if rv > 0.0:
                    s = rv ** shininess
                    r += spe[0] * s
                    g += spe[1] * s
                    b += spe[2] * s
            out[y, x, 0] = min(max(r, 0.0), 1.0)
            out[y, x, 1] = min(max(g, 0.0), 1.0)
            out[y, x, 2] = min(max(b, 0.0), 1.0)


@_jit
def downsample_into(src, factor, out):
    """Box-filter ``src`` (H*factor, W*factor, C) into ``out`` (H, W, C)."""
    H = out.shape[0]
    W = out.shape[1]
    C = out.shape[2]
    norm = 1.0 / (factor * factor)
    for y in range(H):
        for x in range(W):
            for c in range(C):
                acc = 0.0
                for dy in range(factor):
                    for dx in range(factor):
                        acc += src[y * factor + dy, x * factor + dx, c]
                out[y, x, c] = acc * norm


@_jit
def visibility_into(px, pos, nrm, faces, zbuf, fid, near, ortho, cam, tol, out):
    """Per-vertex visibility: in front of the camera, inside the image, front-facing, and
    not occluded (the nearest pixel's face uses the vertex, or its depth is within ``tol``)."""
    H = zbuf.shape[0]
    W = zbuf.shape[1]
    for v in range(px.shape[0]):
        out[v] = False
        z = px[v, 2]
        if not z > near:
            continue
        fu = math.floor(px[v, 0] + 0.5)
        fv = math.floor(px[v, 1] + 0.5)
        if not (fu >= 0.0 and fu < W and fv >= 0.0 and fv < H):
            continue
        c = int(fu)
        r = int(fv)
        if ortho:
            dx = cam[0]
            dy = cam[1]
            dz = cam[2]
        else:
            dx = cam[0] - pos[v, 0]
            dy = cam[1] - pos[v, 1]
            dz = cam[2] - pos[v, 2]
        if nrm[v, 0] * dx + nrm[v, 1] * dy + nrm[v, 2] * dz <= 0.0:
            continue
        f = fid[r, c]
        if f < 0 or faces[f, 0] == v or faces[f, 1] == v or faces[f, 2] == v:
            out[v] = True
        elif z <= zbuf[r, c] + tol:
            out[v] = True
