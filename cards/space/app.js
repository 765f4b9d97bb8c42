// The demo page of a nerhub model: tags the visitor's sentence in the browser with Transformers.js (ONNX Runtime
// Web) and highlights the entities as the Hub's widget does. index.html holds the settings (#space-config).
const config = JSON.parse(document.getElementById("space-config").textContent);
const form = document.getElementById("form");
const input = document.getElementById("text");
const button = document.getElementById("tag");
const statusLine = document.getElementById("status");
const output = document.getElementById("output");
let ner = null;

function setStatus(text, state) {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
}

// [prefix, type] of a label, as transformers' TokenClassificationPipeline.get_tag reads it.
function getTag(label) {
  return label.startsWith("B-") || label.startsWith("I-") ? [label[0], label.slice(2)] : ["I", label];
}

// The token labels grouped as transformers' aggregation_strategy="simple" groups them: a token starts a new
// group unless it continues the type of the previous one without a B- prefix; "O" groups are left out.
function groupEntities(tokens) {
  const groups = [];
  for (const token of tokens) {
    const [prefix, type] = getTag(token.entity);
    const last = groups[groups.length - 1];
    if (last && last.tag === type && prefix !== "B") {
      last.tokens.push(token);
    } else {
      groups.push({tag: type, tokens: [token]});
    }
  }
  return groups
    .map(({tokens}) => ({
      entity_group: tokens[0].entity.split("-").slice(1).join("-") || tokens[0].entity,
      score: tokens.reduce((sum, t) => sum + t.score, 0) / tokens.length,
      start: Math.min(...tokens.filter((t) => t.span).map((t) => t.span[0])),
      end: Math.max(...tokens.filter((t) => t.span).map((t) => t.span[1])),
    }))
    .filter((g) => g.entity_group !== "O" && Number.isFinite(g.start));
}

// The text folded as uncased tokenizers fold it (no accents, lower case), with the index in `text` of each
// folded character.
function fold(text) {
  let chars = "";
  const at = [];
  for (let i = 0; i < text.length; ) {
    const c = String.fromCodePoint(text.codePointAt(i));
    const folded = c.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
    chars += folded;
    for (let k = 0; k < folded.length; k++) at.push(i);
    i += c.length;
  }
  at.push(text.length);
  return {chars, at};
}

// Each token's character span in `text`: its piece found in order, ignoring case and accents (the offsets the
// Python pipeline reads from the fast tokenizer; Transformers.js gives none).
function addSpans(text, tokens) {
  const {chars, at} = fold(text);
  let cursor = 0;
  for (const token of tokens) {
    const piece = fold(token.word.replace(/^##/, "").replace(/^\u2581/, "").trim()).chars;
    const found = piece ? chars.indexOf(piece, cursor) : -1;
    if (found >= 0) {
      token.span = [at[found], at[found + piece.length]];
      cursor = found + piece.length;
    }
  }
  return tokens;
}

function show(text, entities) {
  output.replaceChildren();
  let done = 0;
  for (const e of entities.sort((a, b) => a.start - b.start)) {
    if (e.start < done) continue;
    output.append(text.slice(done, e.start));
    const mark = document.createElement("mark");
    mark.className = "entity";
    mark.dataset.entity = e.entity_group;
    mark.dataset.score = e.score.toFixed(4);
    mark.title = `${e.entity_group} (score ${e.score.toFixed(3)})`;
    mark.style.setProperty("--colour", config.colors[e.entity_group] ?? "#e5e7eb");
    mark.textContent = text.slice(e.start, e.end);
    output.append(mark);
    done = e.end;
  }
  output.append(text.slice(done));
}

async function tag(text) {
  if (!ner || !text.trim()) return;
  button.disabled = true;
  setStatus("Tagging…", "tagging");
  try {
    const tokens = addSpans(text, await ner(text, {ignore_labels: []}));
    const entities = groupEntities(tokens);
    show(text, entities);
    setStatus(`${entities.length} entit${entities.length === 1 ? "y" : "ies"} found`, "tagged");
  } catch (err) {
    setStatus(`Tagging failed: ${err}`, "error");
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  tag(input.value);
});
for (const example of document.querySelectorAll("button.example")) {
  example.addEventListener("click", () => {
    input.value = example.dataset.text;
    tag(input.value);
  });
}

try {
  const {env, pipeline} = await import("@huggingface/transformers");
  env.remoteHost = `${config.endpoint}/`;
  env.allowLocalModels = false;
  if (config.wasm_url) {
    env.backends.onnx.wasm.wasmPaths = {mjs: `${config.wasm_url}ort-wasm-simd-threaded.asyncify.mjs`,
                                        wasm: `${config.wasm_url}ort-wasm-simd-threaded.asyncify.wasm`};
  }
  ner = await pipeline("token-classification", config.model, {device: "wasm", ...config.options});
  button.disabled = false;
  setStatus(`Ready: ${config.file} loaded. Type a sentence or pick an example.`, "ready");
} catch (err) {
  setStatus(`Could not load the model: ${err}`, "error");
}
