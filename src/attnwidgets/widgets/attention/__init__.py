"""The attention explorer: ``AttentionView`` (``view``) and what it is built from: the data
it draws (``view_data``, ``view_stacks``), the uint8 encoding (``transport``), tiles and
thumbnails (``tiles``), the replies to the browser's requests (``requests``,
``request_queue``), the live text box (``live``), sentence pairs (``sentences``); and the
boxes around it: ``attention_explorer`` (``explorer``), the batch selector (``batch``)."""

from .explorer import attention_explorer
from .view import AttentionView, find_attention_view

__all__ = ["AttentionView", "attention_explorer", "find_attention_view"]
