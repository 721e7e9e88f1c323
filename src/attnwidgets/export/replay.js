// Answers a widget's requests in a page without a kernel, from replies recorded when the page
// was written (attnwidgets/export/replay.py): the layers asked for by save_html(layers=...).
// The widget manager of an exported page has no comm: WidgetModel.send drops every message.
// Here a request whose content (without its id) matches a recorded one gets that reply, with
// the request's id, as a "msg:custom" event, the way a kernel's reply arrives; anything else
// is dropped as before, and the view says what is not in the page.
(() => {
  const element = document.getElementById("attnwidgets-replies");
  const table = element ? JSON.parse(element.textContent) : {};
  const canonical = (value) => {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object") {
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
  };
  const keyOf = (content) => {
    const { id: _id, ...rest } = content;
    return canonical(rest);
  };
  const bytes = (text) => {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return new DataView(out.buffer);
  };
  window.require(["@jupyter-widgets/base"], (base) => {
    const proto = base.WidgetModel.prototype;
    const send = proto.send;
    proto.send = function (content, callbacks, buffers) {
      const replies = this.comm === undefined ? table[this.model_id] : undefined;
      const known = replies && content && typeof content === "object";
      const reply = known ? replies[keyOf(content)] : undefined;
      if (reply === undefined) return send.call(this, content, callbacks, buffers);
      setTimeout(() => {
        const answer = { ...reply.content, id: content.id };
        this.trigger("msg:custom", answer, reply.buffers.map(bytes));
      }, 0);
    };
  });
})();
