"""ddpm_ot_lib: the code behind the ddpm-ot book.

Small modules named for what they compute (see BOOK.md): ``gaussian``, ``flow``,
``transport``, ``plots``, ``widgets``, and the modules of later chapters.
Import them explicitly, e.g. ``from ddpm_ot_lib import gaussian, flow``.
"""

__version__ = "0.1.0"
