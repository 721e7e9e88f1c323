"""The attention explorer: ``AttentionView`` (``view``) and what it is built from: the data
it draws (``view_data``, ``view_stacks``), the uint8 encoding (``transport``), tiles and
thumbnails (``tiles``), the replies to the browser's requests (``requests``,
``request_queue``), Q/K records (``qk_tiles``), one query's row (``row_view``), the live
text box (``live``), sentence pairs (``sentences``); and the
boxes around it: ``attention_explorer`` (``explorer``), the batch selector (``batch``)."""

from .explorer import attention_explorer
from .row_view import RowView
from .view import AttentionView, find_attention_view

__all__ = ["AttentionView", "RowView", "attention_explorer", "find_attention_view"]
