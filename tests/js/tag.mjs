#!/usr/bin/env node
// Run the Transformers.js token-classification pipeline on a Hub repo and print its per-token output as JSON.
//
//   node tests/js/tag.mjs --endpoint http://127.0.0.1:PORT --repo NS/NAME [--dtype q8|fp32]
//        [--model-file-name model_quantized_embeddings] [--revision main] [--input FILE] [--output FILE]
//
// Without --dtype the pipeline chooses (on Node's default cpu device: fp32, onnx/model.onnx).
//
// Input (stdin or --input FILE): a JSON list of sentences (strings), or {"sentences": [...]}.
// Output (stdout or --output FILE), one JSON object:
//   {"transformers_js": "4.3.2", "onnxruntime": {"common": ..., "node": ...}, "dtype": "q8" (null: default),
//    "device": "cpu", "files": ["onnx/model_quantized.onnx", "config.json", ...],
//    "results": [{"input_ids": [...], "tokens": [{"index": 1, "entity": "O", "score": 0.99, "word": "..."}]}]}
// `tokens` is the pipeline's raw output with ignore_labels: [] (every non-special token, `index` its position
// in input_ids); `input_ids` is what the pipeline's tokenizer made of the sentence, so a caller can map the
// tokens back to words with its own tokenizer after checking that both tokenized alike.
// No local model folder is consulted and the file cache is a fresh temporary folder, removed at the end: every
// file comes from the endpoint, through the routes {endpoint}/{repo}/resolve/{revision}/{path}. (On Node,
// Transformers.js 4.3 hands ONNX Runtime the model as a cached file path: with env.useFSCache = false it
// fails with "Unable to get model file path or buffer.")

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { env, pipeline } from '@huggingface/transformers';

const { values: args } = parseArgs({
    options: {
        endpoint: { type: 'string' },
        repo: { type: 'string' },
        dtype: { type: 'string' },
        'model-file-name': { type: 'string' },
        revision: { type: 'string', default: 'main' },
        device: { type: 'string', default: 'cpu' },
        input: { type: 'string' },
        output: { type: 'string' },
    },
});
for (const key of ['endpoint', 'repo']) {
    if (!args[key]) {
        console.error(`tag.mjs: error: --${key} is required`);
        process.exit(2);
    }
}

const raw = JSON.parse(readFileSync(args.input ?? 0, 'utf8'));
const sentences = Array.isArray(raw) ? raw : raw.sentences;
if (!Array.isArray(sentences) || !sentences.every((s) => typeof s === 'string')) {
    console.error('tag.mjs: error: the input must be a JSON list of strings or {"sentences": [strings]}');
    process.exit(2);
}

env.remoteHost = args.endpoint.endsWith('/') ? args.endpoint : `${args.endpoint}/`;
env.remotePathTemplate = '{model}/resolve/{revision}/'; // the Hub's (and tests/hub_server.py's) file route
env.allowRemoteModels = true;
env.allowLocalModels = false;
env.useFSCache = true;
env.cacheDir = mkdtempSync(join(tmpdir(), 'tag-mjs-'));
process.on('exit', () => rmSync(env.cacheDir, { recursive: true, force: true }));

// Record which files the pipeline fetched (the URL path below /resolve/REVISION/).
const files = [];
const baseFetch = env.fetch;
env.fetch = async (url, init) => {
    const marker = `/resolve/${encodeURIComponent(args.revision)}/`;
    const text = String(url);
    const at = text.indexOf(marker);
    files.push(at >= 0 ? decodeURIComponent(text.slice(at + marker.length)) : text);
    return baseFetch(url, init);
};

const options = { device: args.device, revision: args.revision };
if (args.dtype) options.dtype = args.dtype;
if (args['model-file-name']) options.model_file_name = args['model-file-name'];
const ner = await pipeline('token-classification', args.repo, options);

const results = [];
for (const sentence of sentences) {
    const { input_ids } = ner.tokenizer(sentence, { truncation: true });
    const tokens = await ner(sentence, { ignore_labels: [] });
    results.push({
        input_ids: input_ids.tolist()[0].map(Number),
        tokens: tokens.map(({ index, entity, score, word }) => ({ index, entity, score, word })),
    });
}

const out = {
    transformers_js: env.version,
    onnxruntime: { ...(env.backends.onnx.versions ?? {}) },
    dtype: args.dtype ?? null,
    device: args.device,
    files,
    results,
};
await ner.dispose();
const text = JSON.stringify(out);
if (args.output) writeFileSync(args.output, text);
else process.stdout.write(`${text}\n`);
