"""Tests of mxkit.render: cameras, the numba rasterizer/shader and the pytorch3d wrapper.

Known-answer checks on tiny scenes; pytorch3d runs only on <= 64x64 images (its CPU
rasterizer is slow). Nothing here is timed: speed is measured by benchmarks/bench_render.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mxkit.errors import InputValueError, OptionError, ShapeError
from mxkit.render import (
    Camera,
    Fragments,
    Light,
    RenderResult,
    icosphere,
    project,
    project_torch,
    rasterize,
    render,
    render_batch,
    vertex_normals,
    weak_perspective,
)


def _px(vertices, camera):
    """Screen-space [u, v, depth] of model-space vertices."""
    p = project(vertices, camera)
    return np.concatenate([p.pixels, p.depth[:, None]], axis=1)


def _bumpy_sphere(frequency=6, seed=0):
    v, f = icosphere(frequency, radius=0.1)
    rng = np.random.default_rng(seed)
    return v * (1.0 + 0.08 * rng.standard_normal((len(v), 1))), f


def _grid(n, lo, hi, *, jitter=0.0, seed=0):
    """(n x n)-vertex grid in the plane spanning [lo, hi]^2 with jitter in multiples of 0.5."""
    xs = np.linspace(lo, hi, n)
    X, Y = np.meshgrid(xs, xs)
    xy = np.stack([X.ravel(), Y.ravel()], 1)
    if jitter:
        rng = np.random.default_rng(seed)
        xy = xy + 0.5 * rng.integers(-2, 3, size=xy.shape) * jitter
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            i = r * n + c
            faces += [[i, i + 1, i + n + 1], [i, i + n + 1, i + n]]
    return xy, np.array(faces)


def _coverage_count(vertices_px, faces, size):
    """How many faces cover each pixel, rasterizing the faces one at a time."""
    count = np.zeros(size, int)
    for face in faces:
        count += rasterize(vertices_px, face[None], size).mask
    return count


# ----------------------------------------------------------------------------- cameras
class TestCamera:
    def test_frontal_values(self):
        cam = Camera.frontal((120, 160), distance=0.5)
        np.testing.assert_array_equal(cam.R, np.diag([1.0, -1.0, -1.0]))
        np.testing.assert_allclose(cam.t, [0.0, 0.0, 0.5])
        np.testing.assert_allclose(cam.center, [0.0, 0.0, 0.5])
        np.testing.assert_allclose(cam.forward, [0.0, 0.0, -1.0])
        assert (cam.cx, cam.cy) == (79.5, 59.5)
        assert cam.fx == pytest.approx(60.0 / np.tan(np.radians(15.0)))
        assert cam.image_size == (120, 160) and cam.projection == "perspective"

    def test_old_keyword_kind_still_works_with_a_deprecation_warning(self):
        with pytest.warns(DeprecationWarning, match="'kind' is deprecated; use 'projection'"):
            cam = Camera.frontal(32, kind="orthographic")
        assert cam == Camera.frontal(32, projection="orthographic")
        with pytest.warns(DeprecationWarning, match="Camera.kind is deprecated"):
            assert cam.kind == "orthographic"
        with pytest.warns(DeprecationWarning):
            again = Camera(fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy, R=cam.R, t=cam.t,
                           image_size=cam.image_size, kind="orthographic")
        assert again == cam
        with pytest.raises(TypeError, match="both"):
            Camera.frontal(32, kind="orthographic", projection="perspective")

    def test_frontal_frames_a_head(self):
        cam = Camera.frontal((256, 256))
        # a 0.25 m head centred at the origin fits inside the image with a margin
        corners = np.array([[x, y, 0.0] for x in (-0.1, 0.1) for y in (-0.125, 0.125)])
        uv = project(corners, cam).pixels
        assert uv.min() > 10 and uv.max() < 245

    def test_project_known_pixels(self):
        cam = Camera.frontal((100, 100), distance=1.0, fov_deg=90.0)  # f = 50 px
        pts = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.1, 0.1, 0.5]])
        proj = project(pts, cam)
        np.testing.assert_allclose(proj.pixels, [[49.5, 49.5], [54.5, 49.5], [49.5, 44.5],
                                                 [59.5, 39.5]])
        np.testing.assert_allclose(proj.depth, [1.0, 1.0, 1.0, 0.5])
        ortho = Camera.frontal((100, 100), distance=1.0, fov_deg=90.0, projection="orthographic")
        np.testing.assert_allclose(project(pts, ortho).pixels,
                                   [[49.5, 49.5], [54.5, 49.5], [49.5, 44.5], [54.5, 44.5]])

    def test_look_at_matches_frontal_and_is_right_handed(self):
        a = Camera.frontal(64, distance=0.7)
        b = Camera.look_at(64, eye=(0, 0, 0.7))
        assert a == b and hash(a) == hash(b)
        side = Camera.look_at((32, 48), eye=(0.6, 0.1, 0.2), target=(0.0, 0.02, 0.0))
        np.testing.assert_allclose(side.R @ side.R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(side.R) == pytest.approx(1.0)
        # the target projects to the principal point, the camera centre is the eye
        np.testing.assert_allclose(project(np.array([[0.0, 0.02, 0.0]]), side).pixels,
                                   [[side.cx, side.cy]], atol=1e-9)
        np.testing.assert_allclose(side.center, [0.6, 0.1, 0.2], atol=1e-12)
        # model +y appears up (smaller v)
        up = project(np.array([[0.0, 0.1, 0.0], [0.0, -0.1, 0.0]]), side).pixels
        assert up[0, 1] < up[1, 1]

    def test_resized_keeps_field_of_view(self):
        cam = Camera.look_at((30, 40), eye=(0.1, 0.2, 0.6))
        big = cam.resized((60, 80))
        pts = np.random.default_rng(0).normal(scale=0.05, size=(10, 3))
        np.testing.assert_allclose(project(pts, big).pixels,
                                   (project(pts, cam).pixels + 0.5) * 2 - 0.5, atol=1e-9)

    def test_exceptions(self):
        with pytest.raises(OptionError, match="projection"):
            Camera.frontal(64, projection="fisheye")
        for bad in (0, (64, 0), (-1, 5), (2.5, 3)):
            with pytest.raises(InputValueError, match="image_size"):
                Camera.frontal(bad)
        with pytest.raises(ShapeError):
            Camera.frontal((1, 2, 3))
        with pytest.raises(InputValueError, match="rotation"):
            Camera(fx=1, fy=1, cx=0, cy=0, R=np.diag([1.0, 1.0, -1.0]), t=np.zeros(3),
                   image_size=(4, 4))
        with pytest.raises(InputValueError, match="fx"):
            Camera(fx=0, fy=1, cx=0, cy=0, R=np.eye(3), t=np.zeros(3), image_size=(4, 4))
        with pytest.raises(ShapeError, match="t"):
            Camera(fx=1, fy=1, cx=0, cy=0, R=np.eye(3), t=np.zeros(2), image_size=(4, 4))
        with pytest.raises(InputValueError, match="differ"):
            Camera.look_at(8, eye=(0, 0, 0))
        with pytest.raises(InputValueError, match="parallel"):
            Camera.look_at(8, eye=(0, 1, 0))
        with pytest.raises(ShapeError, match="points"):
            project(np.zeros((4, 2)), Camera.frontal(8))


class TestProjectTorch:
    @pytest.mark.parametrize("projection", ["perspective", "orthographic"])
    def test_matches_numpy(self, projection):
        cams = [Camera.look_at((40, 50), eye=e, projection=projection) for e in
                [(0.1, 0.05, 0.6), (-0.2, 0.0, 0.5)]]
        pts = np.random.default_rng(1).normal(scale=0.05, size=(2, 7, 3))
        R = torch.tensor(np.stack([c.R for c in cams]))
        t = torch.tensor(np.stack([c.t for c in cams]))
        intr = {k: torch.tensor([getattr(c, k) for c in cams], dtype=torch.float64)
                for k in ("fx", "fy", "cx", "cy")}
        out = project_torch(torch.tensor(pts), R, t, **intr, projection=projection)
        assert out.pixels.shape == (2, 7, 2) and out.depth.shape == (2, 7)
        for b, cam in enumerate(cams):
            ref = project(pts[b], cam)
            np.testing.assert_allclose(out.pixels[b].numpy(), ref.pixels, atol=1e-9)
            np.testing.assert_allclose(out.depth[b].numpy(), ref.depth, atol=1e-12)
        single = project_torch(torch.tensor(pts[:1]), **cams[0].torch_params(dtype=torch.float64))
        np.testing.assert_allclose(single.pixels[0].numpy(), project(pts[0], cams[0]).pixels,
                                   atol=1e-9)

    @pytest.mark.parametrize("projection", ["perspective", "orthographic"])
    def test_gradcheck(self, projection):
        cam = Camera.look_at(32, eye=(0.1, 0.1, 0.5), projection=projection)
        gen = torch.Generator().manual_seed(0)
        pts = (0.05 * torch.randn(1, 4, 3, generator=gen, dtype=torch.float64)).requires_grad_()
        R = torch.tensor(cam.R)[None]
        t = torch.tensor(cam.t, requires_grad=True)
        fx = torch.tensor(cam.fx, dtype=torch.float64, requires_grad=True)

        def fn(p, tt, f):
            out = project_torch(p, R, tt, f, cam.fy, cam.cx, cam.cy, projection=projection)
            return out.pixels, out.depth

        assert torch.autograd.gradcheck(fn, (pts, t, fx), fast_mode=True)

    def test_weak_perspective(self):
        cam = Camera.look_at((32, 32), eye=(0.2, 0.1, 0.5), projection="orthographic")
        pts = np.random.default_rng(2).normal(scale=0.05, size=(1, 6, 3))
        out = weak_perspective(torch.tensor(pts), torch.tensor([cam.fx], dtype=torch.float64),
                               torch.tensor(cam.R)[None],
                               torch.tensor([[cam.cx, cam.cy]], dtype=torch.float64))
        # weak perspective == orthographic camera with fx = fy = scale and t = principal point
        np.testing.assert_allclose(out[0].numpy(), project(pts[0], cam).pixels, atol=1e-9)
        p = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
        s = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
        R = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
        t2 = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(weak_perspective, (p, s, R, t2), fast_mode=True)

    def test_exceptions(self):
        with pytest.raises(ShapeError, match="points"):
            project_torch(torch.zeros(4, 3), torch.eye(3), torch.zeros(3), 1, 1, 0, 0)
        with pytest.raises(OptionError):
            project_torch(torch.zeros(1, 4, 3), torch.eye(3), torch.zeros(3), 1, 1, 0, 0,
                          projection="weak")
        with pytest.raises(ShapeError, match="R"):
            project_torch(torch.zeros(2, 4, 3), torch.eye(3).expand(3, 3, 3), torch.zeros(3),
                          1, 1, 0, 0)
        with pytest.raises(ShapeError, match="fx"):
            project_torch(torch.zeros(2, 4, 3), torch.eye(3), torch.zeros(3),
                          torch.ones(3), 1, 0, 0)
        with pytest.raises(ShapeError, match="scale"):
            weak_perspective(torch.zeros(2, 4, 3), torch.ones(3), torch.eye(3), torch.zeros(2, 2))


# ----------------------------------------------------------------------------- rasterize
class TestRasterize:
    def test_single_triangle_top_left_rule(self):
        tri = np.array([[0.0, 0.0, 1.0], [4.0, 0.0, 1.0], [0.0, 4.0, 1.0]])
        r, c = np.mgrid[0:6, 0:6]
        expected = (r + c < 4)  # top edge (v = 0) and left edge (u = 0) in, hypotenuse out
        for face in ([0, 1, 2], [0, 2, 1]):  # both windings when not culling
            frags = rasterize(tri, [face], (6, 6))
            np.testing.assert_array_equal(frags.mask, expected)
            np.testing.assert_array_equal(frags.face_id[expected], 0)
            assert np.isinf(frags.depth[~expected]).all() and (frags.face_id[~expected] == -1).all()

    def test_square_split_covers_each_pixel_once(self):
        corners = np.array([[1.0, 1.0, 2.0], [5.0, 1.0, 2.0], [5.0, 4.0, 2.0], [1.0, 4.0, 2.0]])
        r, c = np.mgrid[0:6, 0:7]
        expected = (c >= 1) & (c < 5) & (r >= 1) & (r < 4)  # 4 x 3 pixels, half-open box
        for faces in ([[0, 1, 2], [0, 2, 3]], [[0, 1, 3], [1, 2, 3]]):
            count = _coverage_count(corners, np.array(faces), (6, 7))
            np.testing.assert_array_equal(count, expected.astype(int))
            np.testing.assert_array_equal(rasterize(corners, faces, (6, 7)).mask, expected)

    @pytest.mark.parametrize("seed", [0, 1])
    def test_mesh_is_watertight(self, seed):
        # vertices on the half-pixel lattice put many pixel centres exactly on edges/vertices
        xy, faces = _grid(7, -3.0, 21.0, jitter=1.0, seed=seed)  # integer spacing 4
        assert (xy * 2 == np.round(xy * 2)).all() and ((xy >= 0) & (xy < 16)).all(1).sum() > 5
        # shuffle face orientation: coverage must not depend on winding without culling
        faces = faces.copy()
        flip = np.random.default_rng(seed).random(len(faces)) < 0.5
        faces[flip] = faces[flip][:, ::-1]
        verts = np.concatenate([xy, np.ones((len(xy), 1))], 1)
        count = _coverage_count(verts, faces, (16, 16))
        np.testing.assert_array_equal(count, np.ones((16, 16), int))

    def test_depth_interpolates_linearly(self):
        tri = np.array([[-2.0, -1.0, 0.0], [20.0, 3.0, 0.0], [4.0, 18.0, 0.0]])
        tri[:, 2] = 1.0 + 0.05 * tri[:, 0] - 0.02 * tri[:, 1]  # depth = plane in (u, v)
        frags = rasterize(tri, [[0, 1, 2]], (16, 16))
        r, c = np.nonzero(frags.mask)
        assert len(r) > 50
        np.testing.assert_allclose(frags.depth[r, c], 1.0 + 0.05 * c - 0.02 * r, rtol=1e-6)

    def test_perspective_correct_depth_and_bary(self):
        cam = Camera.look_at((24, 24), eye=(0.05, 0.05, 0.4), fov_deg=40)
        tri = np.array([[-0.15, -0.1, -0.1], [0.15, -0.12, 0.05], [0.0, 0.15, -0.02]])
        frags = rasterize(_px(tri, cam), [[0, 1, 2]], cam.image_size, perspective_correct=True)
        r, c = np.nonzero(frags.mask)
        assert len(r) > 100
        # ray-plane intersection in the camera frame gives the true depth
        tc = tri @ cam.R.T + cam.t
        n = np.cross(tc[1] - tc[0], tc[2] - tc[0])
        rays = np.stack([(c - cam.cx) / cam.fx, (r - cam.cy) / cam.fy, np.ones_like(c, float)], 1)
        z = (n @ tc[0]) / (rays @ n)
        np.testing.assert_allclose(frags.depth[r, c], z, rtol=1e-6)
        # perspective-correct barycentrics reproduce the 3D surface point under each pixel
        surf = frags.interpolate(tri, [[0, 1, 2]])[r, c]
        np.testing.assert_allclose(project(surf, cam).pixels, np.stack([c, r], 1), atol=1e-3)

    def test_barycentrics_reproduce_vertex_attributes(self):
        tri = np.array([[0.3, 0.2, 1.0], [11.7, 2.1, 1.5], [3.2, 9.6, 2.0]])
        frags = rasterize(tri, [[0, 1, 2]], (12, 12))
        r, c = np.nonzero(frags.mask)
        np.testing.assert_allclose(frags.bary[r, c].sum(-1), 1.0, atol=1e-6)
        # interpolating the vertices' own pixel coordinates gives each pixel's centre
        uv = frags.interpolate(tri[:, :2], [[0, 1, 2]])
        np.testing.assert_allclose(uv[r, c], np.stack([c, r], 1), atol=1e-4)
        attr = np.array([1.0, -2.0, 5.0])  # any linear attribute
        np.testing.assert_allclose(frags.interpolate(attr, [[0, 1, 2]])[r, c],
                                   frags.bary[r, c] @ attr, atol=1e-5)
        assert (frags.interpolate(attr, [[0, 1, 2]])[~frags.mask] == 0).all()

    def test_nearer_triangle_occludes(self):
        far = [[0.0, 0.0, 5.0], [9.0, 0.0, 5.0], [0.0, 9.0, 5.0]]
        near = [[0.0, 0.0, 2.0], [9.0, 0.0, 2.0], [0.0, 9.0, 2.0]]
        for verts, expected in ((far + near, 1), (near + far, 0)):
            frags = rasterize(np.array(verts), [[0, 1, 2], [3, 4, 5]], (10, 10))
            assert (frags.face_id[frags.mask] == expected).all()
            assert (frags.depth[frags.mask] == 2.0).all()
        # equal depth: the lower face index wins, deterministically
        frags = rasterize(np.array(near + near), [[3, 4, 5], [0, 1, 2]], (10, 10))
        assert (frags.face_id[frags.mask] == 0).all()

    def test_culling_and_near(self):
        tri = np.array([[0.0, 0.0, 1.0], [6.0, 0.0, 1.0], [0.0, 6.0, 1.0]])
        # [0, 2, 1] is counter-clockwise on screen (v down): front-facing
        assert rasterize(tri, [[0, 2, 1]], 8, cull_backfaces=True).mask.sum() > 0
        assert rasterize(tri, [[0, 1, 2]], 8, cull_backfaces=True).mask.sum() == 0
        assert rasterize(tri, [[0, 1, 2]], 8, near=1.0).mask.sum() == 0
        assert rasterize(tri - [0, 0, 2], [[0, 1, 2]], 8, perspective_correct=True).mask.sum() == 0

    @pytest.mark.parametrize("projection,size", [("perspective", (64, 64)), ("orthographic", (48, 64))])
    def test_matches_pytorch3d(self, projection, size):
        from mxkit.render import rasterize_pytorch3d

        v, f = _bumpy_sphere()
        cam = Camera.look_at(size, eye=(0.2, 0.1, 0.45), fov_deg=30, projection=projection)
        ours = rasterize(_px(v, cam), f, size, perspective_correct=projection == "perspective",
                         cull_backfaces=True)
        ref = rasterize_pytorch3d(v, f, cam, cull_backfaces=True)
        assert isinstance(ref, Fragments)
        # interior pixels: covered in both and not on the silhouette
        m = ours.mask & ref.mask
        interior = m.copy()
        interior[1:-1, 1:-1] &= m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
        assert interior.sum() > 500
        assert (ours.mask != ref.mask).mean() < 0.005
        assert (ours.face_id == ref.face_id)[interior].mean() >= 0.99
        same = interior & (ours.face_id == ref.face_id)
        np.testing.assert_allclose(ours.depth[same], ref.depth[same], atol=5e-5)
        np.testing.assert_allclose(ours.bary[same], ref.bary[same], atol=1e-3)

    def test_exceptions(self):
        tri = np.array([[0.0, 0.0, 1.0], [4.0, 0.0, 1.0], [0.0, 4.0, 1.0]])
        with pytest.raises(ShapeError, match="vertices_px"):
            rasterize(tri[:, :2], [[0, 1, 2]], 8)
        with pytest.raises(ShapeError, match="faces"):
            rasterize(tri, [0, 1, 2], 8)
        with pytest.raises(InputValueError, match="NaN"):
            rasterize(np.where(np.eye(3, dtype=bool), np.nan, tri), [[0, 1, 2]], 8)
        with pytest.raises(InputValueError, match="outside"):
            rasterize(tri, [[0, 1, 3]], 8)
        with pytest.raises(InputValueError, match="outside"):
            rasterize(tri, [[0, -1, 2]], 8)
        with pytest.raises(InputValueError, match="integer"):
            rasterize(tri, np.array([[0.0, 1.0, 2.0]]), 8)
        for bad in (0, (8, -2), (0, 0)):
            with pytest.raises(InputValueError, match="image_size"):
                rasterize(tri, [[0, 1, 2]], bad)


# ----------------------------------------------------------------------------- render
class TestVertexNormals:
    def test_values(self):
        v, f = icosphere(4)
        n = vertex_normals(v, f)
        np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-12)
        assert ((n * v).sum(1) > 0.99).all()  # outward and nearly radial
        n1 = vertex_normals(np.vstack([v, [[5.0, 5.0, 5.0]]]), f)
        assert (n1[-1] == 0).all()  # unused vertex
        with pytest.raises(InputValueError):
            vertex_normals(v, f + len(v))


def _plane(z=0.0, half=0.2):
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])  # counter-clockwise seen from +z


class TestRender:
    def test_smoke_shapes_dtypes(self):
        v, f = icosphere(4, radius=0.1)
        cam = Camera.frontal((40, 56))
        out = render(v, f, cam)
        assert isinstance(out, RenderResult)
        assert out.image.shape == (40, 56, 3) and out.image.dtype == np.float32
        assert out.depth.shape == (40, 56) and out.depth.dtype == np.float32
        assert out.face_id.dtype == np.int32 and out.bary.shape == (40, 56, 3)
        assert out.visibility.shape == (len(v),) and out.visibility.dtype == bool
        np.testing.assert_array_equal(out.mask, out.face_id >= 0)
        assert 0.0 <= out.image.min() and out.image.max() <= 1.0
        assert np.isinf(out.depth[~out.mask]).all() and (out.image[~out.mask] == 0).all()
        d = out.depth[out.mask]
        assert 0.49 < d.min() < 0.51 and d.max() < 0.6  # front of the sphere, metres
        assert isinstance(out.fragments, Fragments)

    def test_visibility_back_of_sphere(self):
        v, f = icosphere(5, radius=0.1)
        out = render(v, f, Camera.frontal(64))
        z = v[:, 2]
        assert not out.visibility[z < 0].any()
        assert out.visibility[z > 0.02].all()

    def test_visibility_occluded(self):
        sphere, fs = icosphere(3, radius=0.05)
        wall, fw = _plane(z=0.1, half=0.3)
        v = np.vstack([sphere, wall])
        f = np.vstack([fs, fw + len(sphere)])
        out = render(v, f, Camera.frontal(48))
        assert not out.visibility[: len(sphere)].any()
        assert out.mask.all()  # the wall fills the image; its corners lie outside it

    def test_unlit_albedo_is_interpolated(self):
        v, f = icosphere(3, radius=0.1)
        albedo = np.random.default_rng(0).random((len(v), 3))
        out = render(v, f, Camera.frontal(32), albedo=albedo,
                     light=Light(ambient=1.0, diffuse=0.0))
        expected = out.fragments.interpolate(albedo, f)
        np.testing.assert_allclose(out.image, expected, atol=1e-5)

    def test_lambert_and_phong_values(self):
        v, f = _plane()
        cam = Camera.frontal(16, projection="orthographic")
        c = np.array([0.5, 0.4, 0.3])
        light = Light(direction=(0.0, np.sin(np.pi / 3), np.cos(np.pi / 3)), ambient=0.2,
                      diffuse=0.6)
        img = render(v, f, cam, albedo=c, light=light).image
        np.testing.assert_allclose(img[8, 8], c * (0.2 + 0.6 * 0.5), atol=1e-6)
        # orthographic camera on the light's mirror direction: the specular peak is 1
        spec = Light(direction=(0.0, 0.0, 1.0), ambient=0.0, diffuse=0.0, specular=0.5,
                     shininess=10.0)
        np.testing.assert_allclose(render(v, f, cam, albedo=c, light=spec).image[8, 8], 0.5,
                                   atol=1e-6)
        # from behind (culled) nothing is drawn; the background colour shows
        back = Camera.look_at(16, eye=(0, 0, -0.6))
        out = render(v, f, back, background=(0.1, 0.2, 0.3))
        assert not out.mask.any() and not out.visibility.any()
        np.testing.assert_allclose(out.image, np.broadcast_to([0.1, 0.2, 0.3], (16, 16, 3)),
                                   atol=1e-7)
        assert render(v, f, back, cull_backfaces=False).mask.all()

    def test_texture_lookup(self):
        v, f = _plane()
        uv = (v[:, :2] + 0.2) / 0.4  # u right, v up
        tex = np.zeros((2, 2, 3), np.uint8)
        tex[0, 0] = [255, 0, 0]  # top-left of the image = high v, low u
        tex[0, 1] = [0, 255, 0]
        tex[1, 0] = [0, 0, 255]
        tex[1, 1] = [255, 255, 255]
        cam = Camera.frontal(32, projection="orthographic", fov_deg=2 * np.degrees(np.arctan(0.2 / 0.6)))
        out = render(v, f, cam, uv=uv, texture=tex, light=Light(ambient=1.0, diffuse=0.0))
        assert out.mask.all()
        np.testing.assert_allclose(out.image[2, 2], [1, 0, 0], atol=1e-6)
        np.testing.assert_allclose(out.image[2, 29], [0, 1, 0], atol=1e-6)
        np.testing.assert_allclose(out.image[29, 2], [0, 0, 1], atol=1e-6)
        np.testing.assert_allclose(out.image[29, 29], [1, 1, 1], atol=1e-6)
        # bilinear in between: the centre mixes all four texels equally
        mid = render(v, f, cam.resized((33, 33)), uv=uv, texture=tex,
                     light=Light(ambient=1.0, diffuse=0.0)).image[16, 16]
        np.testing.assert_allclose(mid, [0.5, 0.5, 0.5], atol=1e-2)
        # per-vertex uv without faces_uv, and a float texture, give the same image
        again = render(v, f, cam, uv=uv, faces_uv=f, texture=tex / 255.0,
                       light=Light(ambient=1.0, diffuse=0.0))
        np.testing.assert_allclose(again.image, out.image, atol=1e-6)

    def test_supersample(self):
        v, f = icosphere(4, radius=0.1)
        cam = Camera.frontal(32)
        kw = dict(albedo=(1.0, 1.0, 1.0), light=Light(ambient=1.0, diffuse=0.0))
        one = render(v, f, cam, **kw)
        ss = render(v, f, cam, supersample=3, **kw)
        np.testing.assert_array_equal(ss.face_id, one.face_id)
        np.testing.assert_array_equal(ss.depth, one.depth)
        inner = one.mask.copy()
        inner[1:-1, 1:-1] &= one.mask[:-2, 1:-1] & one.mask[2:, 1:-1] & one.mask[1:-1, :-2] \
            & one.mask[1:-1, 2:]
        np.testing.assert_allclose(ss.image[inner], 1.0, atol=1e-6)
        edge = ss.image[..., 0]
        assert ((edge > 0.05) & (edge < 0.95)).sum() > 10  # anti-aliased silhouette
        # coverage is preserved on average (area of the disc)
        assert abs(ss.image[..., 0].sum() - one.image[..., 0].sum()) < 0.05 * one.mask.sum()

    @pytest.mark.parametrize("workers", [1, 2])
    def test_batch_equals_loop(self, workers):
        v, f = icosphere(3, radius=0.1)
        rng = np.random.default_rng(0)
        verts = v[None] + rng.normal(scale=0.01, size=(3, 1, 3))
        albedo = rng.random((3, len(v), 3))
        cams = [Camera.frontal(24), Camera.look_at(24, eye=(0.3, 0, 0.5)), Camera.frontal(24)]
        out = render_batch(verts, f, cams, albedo=albedo, workers=workers, supersample=2)
        assert out.image.shape == (3, 24, 24, 3) and out.visibility.shape == (3, len(v))
        assert len(out) == 3
        for b in range(3):
            ref = render(verts[b], f, cams[b], albedo=albedo[b], supersample=2)
            for name in ("image", "depth", "face_id", "bary", "mask", "visibility"):
                np.testing.assert_array_equal(getattr(out[b], name), getattr(ref, name))
        shared = render_batch(verts, f, cams[0], albedo=albedo[0])
        np.testing.assert_array_equal(shared.image[1], render(verts[1], f, cams[0],
                                                              albedo=albedo[0]).image)

    def test_accepts_torch_tensors(self):
        v, f = icosphere(2, radius=0.1)
        tv = torch.tensor(v, requires_grad=True)
        out = render(tv, torch.tensor(f), Camera.frontal(16))
        np.testing.assert_array_equal(out.image, render(v, f, Camera.frontal(16)).image)

    def test_exceptions(self):
        v, f = icosphere(2, radius=0.1)
        cam = Camera.frontal(16)
        with pytest.raises(ShapeError, match="vertices"):
            render(v[:, :2], f, cam)
        with pytest.raises(InputValueError, match="NaN"):
            render(np.where(np.arange(len(v))[:, None] == 3, np.nan, v), f, cam)
        with pytest.raises(InputValueError, match="outside"):
            render(v, f + 1, cam)
        with pytest.raises(InputValueError, match="camera"):
            render(v, f, "frontal")
        with pytest.raises(InputValueError, match=r"\[0, 1\]"):
            render(v, f, cam, albedo=np.full((len(v), 3), 2.0))
        with pytest.raises(ShapeError, match="albedo"):
            render(v, f, cam, albedo=np.zeros((len(v) + 1, 3)))
        with pytest.raises(InputValueError, match="either"):
            render(v, f, cam, albedo=(0.5, 0.5, 0.5), uv=v[:, :2], texture=np.zeros((2, 2, 3)))
        with pytest.raises(InputValueError, match="faces_uv"):
            render(v, f, cam, uv=np.zeros((3, 2)), texture=np.zeros((2, 2, 3)))
        with pytest.raises(InputValueError, match="supersample"):
            render(v, f, cam, supersample=0)
        with pytest.raises(ShapeError, match="normals"):
            render(v, f, cam, normals=np.zeros((3, 3)))
        with pytest.raises(InputValueError, match="Light"):
            Light(direction=(0, 0, 0))
        with pytest.raises(InputValueError, match="ambient"):
            Light(ambient=-1.0)
        with pytest.raises(ShapeError, match="camera"):
            render_batch(np.stack([v, v]), f, [cam])
        with pytest.raises(InputValueError, match="image size"):
            render_batch(np.stack([v, v]), f, [cam, Camera.frontal(8)])
        with pytest.raises(ShapeError, match="vertices"):
            render_batch(v, f, cam)
        with pytest.raises(InputValueError, match="workers"):
            render_batch(np.stack([v, v]), f, cam, workers=0)


# ----------------------------------------------------------------------------- pytorch3d
class TestDifferentiable:
    def test_camera_conversion(self):
        from mxkit.render import to_pytorch3d_cameras

        for projection in ("perspective", "orthographic"):
            cam = Camera.look_at((30, 40), eye=(0.2, 0.1, 0.5), projection=projection)
            pts = np.random.default_rng(0).normal(scale=0.05, size=(6, 3))
            p3d = to_pytorch3d_cameras(cam)
            screen = p3d.transform_points_screen(torch.tensor(pts, dtype=torch.float32)[None])
            # pytorch3d's screen space puts pixel centres at c + 0.5
            np.testing.assert_allclose(screen[0, :, :2].numpy() - 0.5, project(pts, cam).pixels,
                                       atol=1e-3)

    def test_soft_render_gradients(self):
        from mxkit.render import DifferentiableRenderer

        v, f = icosphere(3, radius=0.1)
        cam = Camera.frontal(32)
        r = DifferentiableRenderer(32, camera=cam, faces_per_pixel=4)
        verts = torch.tensor(v, dtype=torch.float32, requires_grad=True)
        albedo = torch.full((len(v), 3), 0.6, requires_grad=True)
        out = r(verts, torch.tensor(f), albedo=albedo)
        assert out.image.shape == (1, 32, 32, 3) and out.silhouette.shape == (1, 32, 32)
        hard = render(v, f, cam, cull_backfaces=False)
        sil = out.silhouette[0].detach().numpy()
        assert ((sil > 0.5) == hard.mask).mean() > 0.97
        assert (out.face_id[0].numpy() >= 0)[hard.mask].all()
        assert np.isfinite(out.depth[0].detach().numpy()[hard.mask]).all()
        (out.silhouette.sum() + out.image.sum()).backward()
        assert torch.isfinite(verts.grad).all() and verts.grad.abs().sum() > 0
        assert torch.isfinite(albedo.grad).all() and albedo.grad.abs().sum() > 0
        # a differently sized camera is rescaled, not rejected
        assert DifferentiableRenderer(16, camera=cam).camera == cam.resized((16, 16))

    def test_exceptions(self):
        from mxkit.render import DifferentiableRenderer, rasterize_pytorch3d

        with pytest.raises(InputValueError, match="sigma"):
            DifferentiableRenderer(16, sigma=-1.0)
        with pytest.raises(InputValueError, match="faces_per_pixel"):
            DifferentiableRenderer(16, faces_per_pixel=0)
        r = DifferentiableRenderer(8)
        v, f = icosphere(1, radius=0.1)
        with pytest.raises(ShapeError, match="vertices"):
            r(torch.zeros(2, 3, 4), torch.tensor(f))
        with pytest.raises(InputValueError, match="outside"):
            r(torch.tensor(v), torch.tensor(f) + 100)
        with pytest.raises(InputValueError, match="camera"):
            rasterize_pytorch3d(v, f, None)

