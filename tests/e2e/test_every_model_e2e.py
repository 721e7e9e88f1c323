"""Every kind of capture opens in the explorer in a real JupyterLab: T5, Whisper, CLIP and LLaVA
(several stacks: switching the stack repaints the heatmap), a ViT and a plain PyTorch model
called with floats (no input_ids: positions and a note), and a batch (the example selector
repaints). Models are built from tiny configs in the kernel."""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest
from test_jupyterlab import KERNEL_START, REDRAW, RUN_ALL, errors_in_outputs, open_notebook
from test_jupyterlab import run_all_cells as run_all

pytestmark = pytest.mark.slow

SETUP = """\
import torch, attnwidgets as aw
from transformers import (CLIPConfig, CLIPModel, CLIPVisionConfig, LlamaConfig, LlavaConfig,
    LlavaForConditionalGeneration, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration,
    ViTConfig, ViTModel, WhisperConfig, WhisperModel, GPT2Config, GPT2LMHeadModel)
from tokenizers import Tokenizer, models, pre_tokenizers
torch.manual_seed(0)
small = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64)
vision = dict(small, image_size=8, patch_size=4)
ids = torch.tensor([[5, 9, 11, 2, 7, 30, 3, 4]])
pixels = torch.randn(1, 3, 8, 8)
chars = " abcdefghijklmnopqrstuvwxyz"
vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(chars)}}
core = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
core.pre_tokenizer = pre_tokenizers.Split("", "isolated")
tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<pad>")
"""

CASES = {
    "t5": """\
t5 = T5ForConditionalGeneration(T5Config(num_layers=3, num_decoder_layers=2, num_heads=4,
    d_model=32, d_kv=8, d_ff=64, vocab_size=64, decoder_start_token_id=0))
aw.wrap(t5, norms=False)(input_ids=ids, decoder_input_ids=ids[:, :5]).show()""",
    "whisper": """\
whisper = WhisperModel(WhisperConfig(encoder_layers=2, decoder_layers=2,
    encoder_attention_heads=4, decoder_attention_heads=4, d_model=32, encoder_ffn_dim=64,
    decoder_ffn_dim=64, num_mel_bins=8, max_source_positions=8, max_target_positions=16,
    vocab_size=64, pad_token_id=0, decoder_start_token_id=1))
aw.wrap(whisper, norms=False)(input_features=torch.randn(1, 8, 16),
                              decoder_input_ids=torch.tensor([[1, 5, 7]])).show()""",
    "clip": """\
clip = CLIPModel(CLIPConfig(text_config=dict(small, vocab_size=64, max_position_embeddings=64),
    vision_config=vision, projection_dim=16))
aw.wrap(clip, norms=False)(input_ids=ids, pixel_values=pixels).show()""",
    "llava": """\
llava = LlavaForConditionalGeneration(LlavaConfig(vision_config=CLIPVisionConfig(**vision),
    text_config=LlamaConfig(**small, vocab_size=64, max_position_embeddings=64),
    image_token_index=63, vision_feature_layer=-1))
llava_ids = torch.tensor([[1, 5, 63, 63, 63, 63, 7, 8]])
aw.wrap(llava, norms=False)(input_ids=llava_ids, pixel_values=pixels).show()""",
    "vit": """\
vit = ViTModel(ViTConfig(**vision))
aw.wrap(vit, norms=False)(pixel_values=pixels).show()""",
    "batch": """\
gpt = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=32, n_positions=64))
aw.wrap(gpt, tok, norms=False)(["a cat sat", "hi"]).show()""",
    "pytorch": """\
layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
plain = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
aw.wrap(plain)(src=torch.randn(1, 6, 16)).show()""",
}
STACKS = {"t5": "cross", "whisper": "cross", "clip": "text", "llava": "text"}

DIGEST = """(canvas) => {
  const w = canvas.width, h = canvas.height;
  if (!w || !h) return null;
  const scratch = document.createElement("canvas");
  scratch.width = w; scratch.height = h;
  const ctx = scratch.getContext("2d");
  ctx.drawImage(canvas, 0, 0);
  const data = ctx.getImageData(0, 0, w, h).data;
  let hash = 2166136261, ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    const v = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16);
    hash = Math.imul(hash ^ v, 16777619);
    if (data[i + 3] && !(data[i] > 250 && data[i + 1] > 250 && data[i + 2] > 250)) ink++;
  }
  return { size: `${w}x${h}`, hash: (hash >>> 0).toString(16), ink };
}"""


def painted(view: Any) -> dict[str, Any] | None:
    """The view's heatmap digest once it holds ink and the view says it is ready."""
    if view.get_attribute("data-state") != "ready":
        return None
    digest = view.locator("canvas.attnwidgets-heatmap").first.evaluate(DIGEST)
    return digest if digest and digest["ink"] > 0 else None


def test_every_kind_of_model_opens_and_switches(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    sources = [SETUP, *CASES.values()]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, jupyterlab.root / "every_model.ipynb")
    open_notebook(page, jupyterlab, "every_model.ipynb")
    run_all(page)

    cells = page.locator(".jp-CodeCell")
    shots = tools.artifacts / "every-model"
    shots.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(CASES, start=1):
        cell = cells.nth(index)
        view = cell.locator(".attnwidgets-attention").first

        def drawn(view: Any = view) -> Any:
            if errors := errors_in_outputs(page):
                raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
            return view.count() and painted(view)

        before = tools.wait_for(drawn, RUN_ALL if index == 1 else KERNEL_START, f"{name} drawn")
        select = view.locator("select.attnwidgets-stack")
        if name in STACKS:
            assert select.is_visible(), name
            first = view.get_attribute("data-stack")
            rows = view.locator(".attnwidgets-qlabel").count()
            select.select_option(STACKS[name])
            tools.wait_for(
                lambda v=view, s=STACKS[name]: v.get_attribute("data-stack") == s,
                REDRAW,
                f"{name}: the {STACKS[name]} stack",
            )
            after = tools.wait_for(
                lambda v=view, b=before: (d := painted(v)) and d["hash"] != b["hash"] and d,
                REDRAW,
                f"{name}: a repaint after switching from {first}",
            )
            assert (
                after["size"] != before["size"]
                or rows != view.locator(".attnwidgets-qlabel").count()
            ), name
        else:
            assert not select.is_visible(), name
        if name == "vit":  # a vision run names its positions: [CLS], then patches (r, c)
            labels = view.locator(".attnwidgets-qlabel").all_text_contents()
            assert labels[:2] == ["[CLS]", "(0, 0)"], labels
        if name == "pytorch":
            note = view.locator(".attnwidgets-label-note").inner_text()
            assert note.startswith("positions: no"), note
        if name == "batch":
            picker = cell.locator(".attnwidgets-example select")
            assert picker.is_visible()
            assert view.locator(".attnwidgets-qlabel").all_text_contents()[:3] == ["a", "␣", "c"]
            picker.select_option(index=1)
            tools.wait_for(
                lambda v=view: v.locator(".attnwidgets-qlabel").all_text_contents() == ["h", "i"],
                REDRAW,
                "the second example's labels",
            )
            tools.wait_for(
                lambda v=view, b=before: (d := painted(v)) and d["hash"] != b["hash"] and d,
                REDRAW,
                "a repaint for the second example",
            )
        titles = cell.locator(".attnwidgets-play button").first.get_attribute("title") or ""
        assert re.match(r"play / pause", titles), (name, titles)
        cell.locator(".attnwidgets-explorer").first.screenshot(path=str(shots / f"{name}.png"))
    assert not errors_in_outputs(page)
