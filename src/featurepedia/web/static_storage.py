"""Static files in production: WhiteNoise's hashed, compressed storage, made cheap to run again.

``collectstatic`` runs every time the stack starts. WhiteNoise would brotli- and gzip-compress every file
each time (over a minute on 2 busy cores: the API docs' bundles alone are megabytes). Here:

- only the hashed copies are kept and served (templates name them through the manifest), halving the work;
- a hashed name is a hash of the content, so a hashed file compressed by an earlier run is skipped;
- source maps are not compressed (browsers fetch them only with developer tools open).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's CompressedManifestStaticFilesStorage, keeping only hashed files and compressing each once."""

    keep_only_hashed_files = True
    done_file = ".compressed"  # hashed names already compressed (or found not worth compressing)

    def compress_files(self, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
        done_path = self.path(self.done_file)
        done = set(open(done_path).read().split()) if os.path.exists(done_path) else set()
        todo = [name for name in paths if name not in done or not os.path.exists(self.path(name))]
        yield from super().compress_files(todo)
        with open(done_path, "w") as f:
            f.write("\n".join(sorted(done | set(todo))) + "\n")
