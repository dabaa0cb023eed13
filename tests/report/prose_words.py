"""Common English words of the report's prose, shared by the tests that check a zh-CN edition
has none outside code (the HTML in a browser, the text format)."""

from __future__ import annotations

import re

# None may show in zh-CN outside code elements (code, pre, .mono) and the app's own data.
ENGLISH = re.compile(
    r"(?<![\w./@:<-])(the|and|of|to|is|are|this|that|with|from|not|for|your|you|reads|sends|"
    r"calls|uses|code|data|which|by|or|was|has|have|its|into|when|no|any|can|may|it|be|at|on|"
    r"in|as|an|app|phone|contacts|contact|list|message|messages|server|found|only|all|"
    r"queries|provider|chain|strongest|reference|method|requests|receiver|hidden)(?![\w./@-])"
)
