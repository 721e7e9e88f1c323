// Images of the feature views: uint8 RGB pixels drawn into a canvas, nearest-neighbour.

/** Draw uint8 RGB pixels [h, w, 3] (from `data` at `offset`) into a canvas, `scale`x. */
export function drawRgb(canvas, data, offset, h, w, scale) {
  canvas.width = w * scale;
  canvas.height = h * scale;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    image.data[4 * i] = data[offset + 3 * i];
    image.data[4 * i + 1] = data[offset + 3 * i + 1];
    image.data[4 * i + 2] = data[offset + 3 * i + 2];
    image.data[4 * i + 3] = 255;
  }
  const small = document.createElement("canvas");
  small.width = w;
  small.height = h;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, w * scale, h * scale);
  return ctx;
}
