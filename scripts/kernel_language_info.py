"""Print the notebook metadata ``{"language_info": ...}`` that this environment's Python
kernel reports, as JSON, for ``jupytext --update-metadata`` (``make notebooks``).

JupyterLab writes the kernel's ``language_info`` into a notebook when the kernel starts; a
notebook generated without it therefore opens as "modified". With it (equal to what the
kernel reports), it opens unmodified.
"""

import json

from ipykernel.ipkernel import IPythonKernel

print(json.dumps({"language_info": IPythonKernel.language_info}, sort_keys=True))
