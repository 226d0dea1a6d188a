"""mkdocs-gen-files script: writes the reference pages from the code (edgebench.reference)
into the site being built; nothing is written into the checkout."""

import mkdocs_gen_files

from edgebench.reference import PAGES, page

for path in PAGES:
    with mkdocs_gen_files.open(path, "w") as f:
        f.write(page(path))
    mkdocs_gen_files.set_edit_path(path, "../src/edgebench/reference.py")
