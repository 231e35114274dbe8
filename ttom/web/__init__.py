"""The chat page: ask for videos in conversation, watch them, steer them (``ttom serve api`` serves it at ``/``).

A static page (``static/``: HTML, CSS and a few hundred lines of plain JavaScript, no build step) on
the HTTP job API of ``ttom.serve`` (``/v1/videos``), plus the few read-only endpoints the page needs
that the job API does not have (``routes``: conversations, a round's video, a memory entry).
"""
