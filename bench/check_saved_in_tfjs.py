"""Check that what model.save() writes loads in real TensorFlow.js, and that our http save matches TF.js's.

1. Loads a model here (numpy backend), saves it with model.save() (optionally re-quantized / sharded)
   to a temp folder.
2. Runs Node with @tensorflow/tfjs 4.22 (the peer harness's node_modules, cpu backend): serves that
   folder on 127.0.0.1 and loads it with tf.loadLayersModel / tf.loadGraphModel over http (TF.js's own
   loader: shard fetching, dequantization), predicts on the same inputs, and saves the model back
   with TF.js's tf.io.http() (browserHTTPRequest) to a local endpoint that keeps the raw request.
3. Compares TF.js's outputs with ours, and the parts of TF.js's multipart request (names, filenames,
   content types, the manifest paths, the weight bytes) with what loader.saving.HttpTarget sends.

Set up the peer harness once (no Chromium or tfjs-node needed for this):

    cp -r ../shared/peer /tmp/peer && (cd /tmp/peer && npm install --no-audit --no-fund)

Run (exit status 0 when everything matches):

    .venv/bin/python bench/check_saved_in_tfjs.py --peer /tmp/peer                       # Keras 2 layers model
    .venv/bin/python bench/check_saved_in_tfjs.py --peer /tmp/peer --quantize uint8 --shard-bytes 512
    .venv/bin/python bench/check_saved_in_tfjs.py --peer /tmp/peer --model tests/fixtures/static/mixed_layers
"""
from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NODE_SCRIPT = r"""
const fs = require('fs');
const path = require('path');
const http = require('http');
const tf = require('@tensorflow/tfjs');
const [dir, inputsPath, outPath, kind] = process.argv.slice(2);

const server = http.createServer((req, res) => {
  if (req.method === 'POST') {                     // TF.js's model.save(tf.io.http(...)) lands here
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      fs.writeFileSync(path.join(path.dirname(outPath), 'tfjs_request.bin'), Buffer.concat(chunks));
      fs.writeFileSync(path.join(path.dirname(outPath), 'tfjs_request.json'),
                       JSON.stringify({method: req.method, headers: req.headers}));
      res.writeHead(200, {'Content-Type': 'application/json'}).end('{}');
    });
    return;
  }
  const file = path.join(dir, path.basename(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!fs.existsSync(file)) { res.writeHead(404).end(); return; }
  res.writeHead(200).end(fs.readFileSync(file));
});

server.listen(0, '127.0.0.1', async () => {
  try {
    await tf.setBackend('cpu');
    const base = `http://127.0.0.1:${server.address().port}`;
    const model = kind === 'layers-model' ? await tf.loadLayersModel(`${base}/model.json`)
                                          : await tf.loadGraphModel(`${base}/model.json`);
    const spec = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
    const feeds = {};
    for (const [k, v] of Object.entries(spec)) feeds[k] = tf.tensor(v.values, v.shape, v.dtype);
    let outs;
    if (kind === 'layers-model') {
      const names = model.inputNames;
      const y = model.predict(names.map((n) => feeds[n]));
      outs = Array.isArray(y) ? y : [y];
      outs = outs.map((t, i) => [model.outputNames[i], t]);
    } else {
      const names = model.outputNodes;
      const y = model.execute(feeds, names);
      outs = (Array.isArray(y) ? y : [y]).map((t, i) => [names[i], t]);
    }
    const result = {tfjs: tf.version.tfjs, backend: tf.getBackend(), outputs: {}};
    for (const [name, t] of outs) result.outputs[name] = {shape: t.shape, values: Array.from(await t.data())};
    await model.save(tf.io.http(`${base}/upload`));
    fs.writeFileSync(outPath, JSON.stringify(result));
  } catch (e) {
    console.error(e && e.stack || e);
    process.exitCode = 1;
  } finally {
    server.close();
  }
});
"""


def _parts(content_type: str, body: bytes) -> dict[str, dict]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    return {p.get_param("name", header="content-disposition"):
            {"filename": p.get_filename(), "type": p.get_content_type(), "data": p.get_payload(decode=True)}
            for p in msg.iter_parts()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "layers" / "core_nested_k2"),
                    help="model folder; Keras 3 layers models (tiny_layers, *_k3) do not load in TF.js 4.22 at "
                         "all, converter output included (InputLayer 'batch_shape'), so use a Keras 2 one")
    ap.add_argument("--peer", default="/tmp/peer", help="folder whose node_modules has @tensorflow/tfjs")
    ap.add_argument("--quantize", choices=["uint8", "uint16", "float16"])
    ap.add_argument("--shard-bytes", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--atol", type=float, default=1e-4, help="relative to the largest |output| (x it)")
    args = ap.parse_args()

    from loader import load_model
    from loader.saving import HttpTarget, build_artifacts

    model = load_model(args.model, backend="numpy")
    feeds = model.example_inputs(batch=2, seed=5)
    ours = model.predict(feeds)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "saved"
        model.save(out_dir, quantize=args.quantize, weight_shard_size_bytes=args.shard_bytes)
        written = sorted(p.name for p in out_dir.iterdir())
        saved = load_model(out_dir, backend="numpy")          # what TF.js reads, also loaded here
        ours_saved = saved.predict(feeds)
        kind = saved.source_artifacts.format
        # TF.js keys graph-model inputs by node name, layers-model inputs by input layer name
        from loader.graph import parse_input
        spec = {}
        for t in saved.inputs:
            name = t.key if kind == "layers-model" else parse_input(t.name)[0][0]
            arr = feeds[t.key]
            spec[name] = {"shape": list(arr.shape), "dtype": str(arr.dtype),
                          "values": arr.reshape(-1).tolist()}
        (Path(tmp) / "inputs.json").write_text(json.dumps(spec))
        (Path(tmp) / "check.cjs").write_text(NODE_SCRIPT)
        env = dict(os.environ, NODE_PATH=str(Path(args.peer) / "node_modules"))
        proc = subprocess.run(["node", str(Path(tmp) / "check.cjs"), str(out_dir), str(Path(tmp) / "inputs.json"),
                               str(Path(tmp) / "result.json"), kind], env=env, capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n")
            print("FAIL: TF.js could not load / run the saved model")
            return 1
        result = json.loads((Path(tmp) / "result.json").read_text())
        print(f"model {args.model} ({kind}) saved with quantize={args.quantize}, shards of {args.shard_bytes} B: "
              f"{written}")
        print(f"TF.js {result['tfjs']} ({result['backend']} backend) loaded it over http")
        tf_outs = list(result["outputs"].values())
        for (key, mine), (tname, tf_out) in zip(ours_saved.items(), result["outputs"].items()):
            got = np.asarray(tf_out["values"], np.float32).reshape(tf_out["shape"])
            span = float(np.max(np.abs(mine))) or 1.0
            diff = float(np.max(np.abs(got - mine))) if got.shape == mine.shape else float("inf")
            good = got.shape == mine.shape and diff <= args.atol * span
            ok &= good
            print(f"  output {key} (TF.js {tname}): shape {list(got.shape)}, max |TF.js - ours| = {diff:.3g} "
                  f"(max |out| {span:.3g}; vs the unsaved model here: "
                  f"{float(np.max(np.abs(ours[key] - mine))):.3g}) {'ok' if good else 'MISMATCH'}")
        if len(tf_outs) != len(ours_saved):
            ok = False
            print(f"  output count differs: TF.js {len(tf_outs)}, ours {len(ours_saved)}")

        # TF.js's own http save of the same model vs ours
        head = json.loads((Path(tmp) / "tfjs_request.json").read_text())
        theirs = _parts(head["headers"]["content-type"], (Path(tmp) / "tfjs_request.bin").read_bytes())
        target = HttpTarget("http://127.0.0.1:1/unused")
        arts = build_artifacts(saved.source_artifacts, saved.source_weights)
        boundary = "----checkboundary"
        mine_parts = _parts(f"multipart/form-data; boundary={boundary}", target.body(arts, boundary))
        print(f"TF.js tf.io.http save: {head['method']} {head['headers']['content-type'].split(';')[0]}, parts "
              + ", ".join(f"{k} ({v['filename']}, {v['type']}, {len(v['data'])} B)" for k, v in theirs.items()))
        same_shape = {k: (v["filename"], v["type"]) for k, v in theirs.items()} == \
                     {k: (v["filename"], v["type"]) for k, v in mine_parts.items()}
        tj, mj = json.loads(theirs["model.json"]["data"]), json.loads(mine_parts["model.json"]["data"])
        same_paths = [g["paths"] for g in tj["weightsManifest"]] == [g["paths"] for g in mj["weightsManifest"]]
        same_specs = tj["weightsManifest"][0]["weights"] == mj["weightsManifest"][0]["weights"]
        # TF.js dequantizes at load and saves float32, so weight bytes are comparable only unquantized
        same_bytes = theirs["model.weights.bin"]["data"] == mine_parts["model.weights.bin"]["data"]
        print(f"  parts/filenames/types match ours: {same_shape}; weightsManifest paths match: {same_paths} "
              f"({tj['weightsManifest'][0]['paths']}); weight specs match: {same_specs}; weight bytes match: "
              f"{same_bytes}" + (" (expected to differ: TF.js re-saves dequantized float32)" if args.quantize else ""))
        ok &= same_shape and same_paths and (bool(args.quantize) or (same_specs and same_bytes))
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
