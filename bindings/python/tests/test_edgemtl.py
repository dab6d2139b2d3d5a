"""The Python binding on the PyTorch fixtures (tests/fixtures): converted with
edgemtl.convert, scored with numpy arrays, compared with PyTorch's outputs
(expected.jsonl, 1e-5) and with the C++ API (edgemtl-run, bitwise); errors.

Run by ctest (the `python` test), which sets PYTHONPATH to the built module and
EDGEMTL_SOURCE_DIR, EDGEMTL_SCRATCH and EDGEMTL_RUN."""
import json
import os
import subprocess
import unittest

import numpy as np

import edgemtl

SOURCE_DIR = os.environ["EDGEMTL_SOURCE_DIR"]
SCRATCH = os.environ["EDGEMTL_SCRATCH"]
EDGEMTL_RUN = os.environ["EDGEMTL_RUN"]
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures")
TOLERANCE = 1e-5


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fixture_names():
    return sorted(n for n in os.listdir(FIXTURES) if os.path.exists(os.path.join(FIXTURES, n, "model.onnx")))


def convert_keywords(flags):
    """meta.json convert_flags (edgemtl-convert flags) as edgemtl.convert keywords."""
    words, keywords = (flags or "").split(), {}
    pairs = lambda text: [entry.split("=", 1) for entry in text.split(",")]
    i = 0
    while i < len(words):
        flag = words[i]
        if flag == "--keep-last-ids":
            keywords["keep_last_ids"] = True
            i += 1
            continue
        value = words[i + 1]
        i += 2
        if flag == "--input-shape":
            keywords["input_shapes"] = {name: int(length) for name, length in pairs(value)}
        elif flag == "--fix-input":
            keywords["fix_inputs"] = {name: float(x) for name, x in pairs(value)}
        elif flag == "--outputs":
            keywords["outputs"] = value.split(",")
        elif flag == "--list-padding":
            keywords["list_padding"] = value
        else:
            raise ValueError("convert_flags: no edgemtl.convert keyword for " + flag)
    return keywords


def close_enough(actual, expected, tolerance=TOLERANCE):
    """|actual - expected| <= tolerance, relative for |expected| > 1 (as tests/fixture_util.h)."""
    return abs(actual - expected) <= tolerance * max(1.0, abs(expected))


class Fixture:
    def __init__(self, name):
        folder = os.path.join(FIXTURES, name)
        self.name = name
        self.onnx = os.path.join(folder, "model.onnx")
        self.rows_path = os.path.join(folder, "rows.jsonl")
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = json.load(f)
        self.rows = read_jsonl(self.rows_path)
        self.expected = read_jsonl(os.path.join(folder, "expected.jsonl"))
        self.model_path = os.path.join(SCRATCH, name + ".emtl")

    def convert(self, path=None, **extra):
        """As edgemtl-convert with the fixture's user inputs, tasks and convert_flags."""
        keywords = convert_keywords(self.meta.get("convert_flags"))
        keywords.update(extra)
        edgemtl.convert(self.onnx, path or self.model_path, user_inputs=self.meta["user_inputs"],
                        tasks=self.meta.get("tasks"), **keywords)
        return path or self.model_path


def score_row(model, row):
    """One fixture row scored alone with a fresh session: [1, tasks]."""
    session = model.session()
    session.set_user({f.name: row[f.name] for f in model.features if f.side == "user"})
    return session.score({f.name: [row[f.name]] for f in model.features if f.side == "item"})


def users_of(model, rows):
    """Row indices grouped by identical user-side values, in order of first appearance."""
    user_names = [f.name for f in model.features if f.side == "user"]
    groups = {}
    for index, row in enumerate(rows):
        key = json.dumps([row[name] for name in user_names])
        groups.setdefault(key, []).append(index)
    return user_names, list(groups.values())


class FixtureScores(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(SCRATCH, exist_ok=True)
        cls.fixtures = [Fixture(name) for name in fixture_names()]
        for fixture in cls.fixtures:
            fixture.convert()

    def test_there_are_fixtures(self):
        self.assertGreaterEqual(len(self.fixtures), 5)
        # Those needing converter flags are converted with the keywords that stand for them.
        self.assertTrue(any("convert_flags" in fixture.meta for fixture in self.fixtures))

    def test_model_describes_features_and_tasks(self):
        for fixture in self.fixtures:
            with self.subTest(fixture=fixture.name):
                model = edgemtl.Model(fixture.model_path)
                users = [f.name for f in model.features if f.side == "user"]
                self.assertEqual(sorted(users), sorted(fixture.meta["user_inputs"]))
                self.assertEqual(sorted(f.name for f in model.features), sorted(fixture.rows[0].keys()))
                tasks = [t.split(":")[0] for t in fixture.meta["tasks"].split(",")]
                self.assertEqual(model.task_names, tasks)
                self.assertEqual([t.name for t in model.tasks], tasks)
                keywords = convert_keywords(fixture.meta.get("convert_flags"))
                for feature in model.features:
                    value = np.asarray(fixture.rows[0][feature.name])
                    if feature.name in keywords.get("input_shapes", {}):  # lists given unpadded, 0..L ids
                        self.assertLessEqual(value.size, feature.width, feature.name)
                    else:
                        self.assertEqual(value.size, feature.width, feature.name)
                    self.assertIn(feature.kind, ("id", "id_list", "dense"))
                self.assertEqual(model.format_version, edgemtl.format_version)
                self.assertTrue(model.producer.startswith("edgemtl-convert"))
                # Serving-time pruning is recorded in the metadata; nothing else is written without it.
                pruning = {}
                if "fix_inputs" in keywords:
                    pruning["edgemtl.fixed_inputs"] = ",".join(
                        f"{name}={value:g}" for name, value in keywords["fix_inputs"].items())
                if "outputs" in keywords:
                    pruning["edgemtl.outputs"] = ",".join(keywords["outputs"])
                for key, value in pruning.items():
                    self.assertEqual(model.metadata.get(key), value)
                if not pruning:
                    self.assertEqual(model.metadata, {})

    def test_batched_scores_match_pytorch(self):
        for fixture in self.fixtures:
            with self.subTest(fixture=fixture.name):
                model = edgemtl.Model(fixture.model_path)
                session = model.session(max_items=len(fixture.rows))
                item_names = [f.name for f in model.features if f.side == "item"]
                user_names, groups = users_of(model, fixture.rows)
                self.assertGreater(len(groups), 1)
                checked = 0
                for group in groups:
                    first = fixture.rows[group[0]]
                    session.set_user({name: first[name] for name in user_names})
                    items = {name: np.array([fixture.rows[i][name] for i in group]) for name in item_names}
                    scores = session.score(items)
                    self.assertEqual(scores.shape, (len(group), len(model.tasks)))
                    self.assertEqual(scores.dtype, np.float32)
                    for row, index in enumerate(group):
                        for t, task in enumerate(model.task_names):
                            expected = fixture.expected[index][task]
                            self.assertTrue(close_enough(float(scores[row, t]), expected),
                                            f"row {index} task {task}: {scores[row, t]} vs PyTorch {expected}")
                            checked += 1
                self.assertEqual(checked, len(fixture.rows) * len(model.tasks))

    def test_rank_over_cached_candidates_equals_score(self):
        """set_candidates once, then set_user + rank(): bitwise equal to score(), and to PyTorch within 1e-5;
        replace_candidates swaps one candidate."""
        for fixture in self.fixtures:
            with self.subTest(fixture=fixture.name):
                model = edgemtl.Model(fixture.model_path)
                session = model.session(max_items=len(fixture.rows))
                item_names = [f.name for f in model.features if f.side == "item"]
                if not item_names:
                    continue
                user_names, groups = users_of(model, fixture.rows)
                group = max(groups, key=len)
                items = {name: np.array([fixture.rows[i][name] for i in group]) for name in item_names}
                self.assertEqual(session.num_candidates, 0)
                session.set_candidates(items)
                self.assertEqual(session.num_candidates, len(group))
                self.assertGreater(session.candidate_cache_bytes, 0)
                self.assertEqual(session.tile_lanes, 1)  # one thread
                first = fixture.rows[group[0]]
                if user_names:
                    session.set_user({name: first[name] for name in user_names})
                ranked = session.rank()
                scored = session.score(items)
                self.assertEqual(ranked.shape, (len(group), len(model.tasks)))
                self.assertTrue(np.array_equal(ranked, scored))
                for row, index in enumerate(group):
                    for t, task in enumerate(model.task_names):
                        self.assertTrue(close_enough(float(ranked[row, t]), fixture.expected[index][task]))
                if len(group) > 1:
                    last = {name: values[-1:] for name, values in items.items()}
                    session.replace_candidates([0], last)
                    swapped = session.rank()
                    self.assertTrue(np.array_equal(swapped[0], scored[-1]))
                    self.assertTrue(np.array_equal(swapped[1:], scored[1:]))
                with self.assertRaisesRegex(edgemtl.Error, f"there are {len(group)} candidates"):
                    session.replace_candidates([len(group)], {name: values[:1] for name, values in items.items()})

    def test_scores_equal_the_cpp_api(self):
        """edgemtl-run --rows (C++ API) scores each row alone; so does this, bitwise equal."""
        for fixture in self.fixtures:
            with self.subTest(fixture=fixture.name):
                out = subprocess.run([EDGEMTL_RUN, fixture.model_path, "--rows", fixture.rows_path],
                                     check=True, capture_output=True, text=True).stdout
                cpp = [json.loads(line) for line in out.splitlines() if line.strip()]
                self.assertEqual(len(cpp), len(fixture.rows))
                model = edgemtl.Model(fixture.model_path)
                session = edgemtl.Session(model, max_items=1)
                user_names = [f.name for f in model.features if f.side == "user"]
                item_names = [f.name for f in model.features if f.side == "item"]
                for index, row in enumerate(fixture.rows):
                    if user_names:
                        session.set_user({name: row[name] for name in user_names})
                    scores = session.score({name: np.array([row[name]]) for name in item_names})
                    for t, task in enumerate(model.task_names):
                        self.assertEqual(scores[0, t], np.float32(cpp[index][task]), f"row {index} task {task}")

    def test_from_bytes_scores_like_from_file(self):
        fixture = self.fixtures[0]
        with open(fixture.model_path, "rb") as f:
            data = f.read()
        by_file, by_bytes = edgemtl.Model(fixture.model_path), edgemtl.Model.from_bytes(data)
        del data
        np.testing.assert_array_equal(score_row(by_file, fixture.rows[0]), score_row(by_bytes, fixture.rows[0]))


class Inputs(unittest.TestCase):
    """Any integer dtype for ids, any number dtype for dense values, lists too."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(SCRATCH, exist_ok=True)
        cls.fixture = Fixture("esmm")
        cls.fixture.convert(os.path.join(SCRATCH, "esmm.inputs.emtl"))
        cls.model = edgemtl.Model(os.path.join(SCRATCH, "esmm.inputs.emtl"))

    def scores_for(self, convert_ids, convert_values):
        session = self.model.session()
        rows = self.fixture.rows[:4]
        user = {}
        for feature in self.model.features:
            value = rows[0][feature.name]
            if feature.side == "user":
                user[feature.name] = convert_values(value) if feature.kind == "dense" else convert_ids(value)
        session.set_user(user)
        items = {}
        for feature in self.model.features:
            if feature.side == "item":
                column = [row[feature.name] for row in rows]
                items[feature.name] = convert_values(column) if feature.kind == "dense" else convert_ids(column)
        return session.score(items)

    def test_dtypes_and_lists_give_the_same_scores(self):
        reference = self.scores_for(lambda v: np.asarray(v, dtype=np.int64), lambda v: np.asarray(v, dtype=np.float32))
        for ids, values in ((lambda v: np.asarray(v, dtype=np.int32), lambda v: np.asarray(v, dtype=np.float64)),
                            (lambda v: v, lambda v: v)):
            np.testing.assert_array_equal(self.scores_for(ids, values), reference)

    def test_n_is_checked_against_the_features(self):
        session = self.model.session()
        row = self.fixture.rows[0]
        session.set_user({f.name: row[f.name] for f in self.model.features if f.side == "user"})
        items = {f.name: np.array([row[f.name]]) for f in self.model.features if f.side == "item"}
        self.assertEqual(session.score(items).shape, (1, 2))
        with self.assertRaises(edgemtl.Error) as caught:
            session.score(items, n=2)
        self.assertEqual(caught.exception.status, "InvalidArgument")


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(SCRATCH, exist_ok=True)
        cls.fixture = Fixture("esmm")
        cls.path = cls.fixture.convert(os.path.join(SCRATCH, "esmm.errors.emtl"))
        cls.model = edgemtl.Model(cls.path)
        row = cls.fixture.rows[0]
        cls.user = {f.name: row[f.name] for f in cls.model.features if f.side == "user"}
        cls.items = {f.name: np.array([row[f.name]]) for f in cls.model.features if f.side == "item"}

    def assert_error(self, status, text, function, *args, **kwargs):
        with self.assertRaises(edgemtl.Error) as caught:
            function(*args, **kwargs)
        self.assertEqual(caught.exception.status, status, str(caught.exception))
        self.assertIn(text, str(caught.exception))
        self.assertIsInstance(caught.exception, RuntimeError)
        return caught.exception

    def test_loading(self):
        self.assert_error("IoError", "/nonexistent.emtl", edgemtl.Model, "/nonexistent.emtl")
        self.assert_error("InvalidModel", "", edgemtl.Model.from_bytes, b"not a model at all" * 8)
        with open(self.path, "rb") as f:
            data = f.read()
        self.assert_error("InvalidModel", "truncated", edgemtl.Model.from_bytes, data[:-64 - 1])

    def test_checked_weights(self):
        self.assertTrue(self.model.has_checksums)
        self.model.verify_weights()
        with open(self.path, "rb") as f:
            data = bytearray(f.read())
        data[-64] ^= 0x10  # the last constant: loads (weights are not read), does not verify
        flipped = edgemtl.Model.from_bytes(bytes(data))
        self.assert_error("InvalidModel", "checksum mismatch in the weight segment", flipped.verify_weights)
        old = edgemtl.Model(os.path.join(SOURCE_DIR, "tests", "compat", "esmm.before_checksums.emtl"))
        self.assertFalse(old.has_checksums)
        self.assert_error("Unsupported", "no checksums", old.verify_weights)

    def test_scoring(self):
        session = self.model.session(max_items=4)
        self.assert_error("InvalidState", "set_user", session.score, self.items)
        self.assert_error("NotFound", "no feature named 'userid'", session.set_user, {"userid": 1})
        session.set_user(self.user)
        bad_ids = dict(self.items, itemId=np.array([10**9]))
        error = self.assert_error("IdOutOfRange", "itemId", session.score, bad_ids)
        self.assertEqual(error.code, 5)
        nan_values = dict(self.items, itemCtr7d=np.array([float("nan")]))
        self.assert_error("InvalidValue", "itemCtr7d", session.score, nan_values)
        self.assert_error("InvalidArgument", "ids are integers", session.score, dict(self.items, itemId=np.array([1.5])))
        missing = {k: v for k, v in self.items.items() if k != "brandId"}
        self.assert_error("MissingFeature", "brandId", session.score, missing)
        five = {name: np.repeat(value, 5, axis=0) for name, value in self.items.items()}
        self.assert_error("InvalidArgument", "max_items", session.score, five)
        self.assert_error("InvalidArgument", "", edgemtl.Session, self.model, max_items=0)
        # A bound below what the model needs: refused before allocating, with the sizes in the message.
        self.assert_error("OutOfMemory", "max_arena_bytes", edgemtl.Session, self.model, max_arena_bytes=64)

    def test_conversion(self):
        out = os.path.join(SCRATCH, "never.emtl")
        with self.assertRaises(Exception) as caught:
            edgemtl.convert("/nonexistent.onnx", out)
        self.assertIn("/nonexistent.onnx", str(caught.exception))
        with self.assertRaises(edgemtl.ConversionError) as caught:
            edgemtl.convert(self.fixture.onnx, out, user_inputs=["no_such_input"])
        self.assertIn("no_such_input", str(caught.exception))
        with self.assertRaises(ValueError):
            edgemtl.convert(self.fixture.onnx, out, quantize="int4")
        with self.assertRaises(ValueError):
            edgemtl.convert(self.fixture.onnx, out, quantize="int8")  # no calibration rows
        with self.assertRaises(edgemtl.ConversionError):
            edgemtl.convert(self.fixture.onnx, out, metadata={"edgemtl.convert_options": "mine"})
        with self.assertRaises(ValueError):
            edgemtl.convert(self.fixture.onnx, out, list_padding="middle")
        with self.assertRaises(ValueError):
            edgemtl.convert(self.fixture.onnx, out, input_shapes={"userClickSeq": 0})
        with self.assertRaises(edgemtl.ConversionError) as caught:
            edgemtl.convert(self.fixture.onnx, out, fix_inputs={"no_such_input": 1.0})
        self.assertIn("no_such_input", str(caught.exception))
        with self.assertRaises(edgemtl.ConversionError) as caught:
            edgemtl.convert(self.fixture.onnx, out, outputs=["no_such_output"])
        self.assertIn("no_such_output", str(caught.exception))


class Conversion(unittest.TestCase):
    def test_metadata_and_options_are_recorded(self):
        os.makedirs(SCRATCH, exist_ok=True)
        fixture = Fixture("esmm")
        path = fixture.convert(os.path.join(SCRATCH, "esmm.metadata.emtl"),
                               metadata={"model_name": "ranker", "trained": "2026-11-30"})
        metadata = edgemtl.Model(path).metadata
        self.assertEqual(metadata["model_name"], "ranker")
        self.assertEqual(metadata["trained"], "2026-11-30")
        options = metadata["edgemtl.convert_options"]
        self.assertIn("user_inputs=" + ",".join(fixture.meta["user_inputs"]), options)
        self.assertIn("quantize=none", options)

    def test_quantized_model_stays_close(self):
        os.makedirs(SCRATCH, exist_ok=True)
        fixture = Fixture("mmoe")
        f32 = edgemtl.Model(fixture.convert(os.path.join(SCRATCH, "mmoe.f32.emtl")))
        fp16 = edgemtl.Model(fixture.convert(os.path.join(SCRATCH, "mmoe.fp16.emtl"), quantize="fp16"))
        self.assertIn("quantize=fp16", edgemtl.Model(fixture.convert(
            os.path.join(SCRATCH, "mmoe.fp16m.emtl"), quantize="fp16", metadata={"a": "b"})).metadata[
                "edgemtl.convert_options"])
        difference = score_row(f32, fixture.rows[0]) - score_row(fp16, fixture.rows[0])
        self.assertLess(float(np.max(np.abs(difference))), 0.05)


if __name__ == "__main__":
    unittest.main()
