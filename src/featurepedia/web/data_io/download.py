"""An export as one zip file, for the admin's download action."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from featurepedia.web.data_io.export import ExportScope, export_data


def export_zip(scope: ExportScope, fmt: str = "parquet") -> bytes:
    """The scope's export (tables and data card) zipped, folder layout kept."""
    with tempfile.TemporaryDirectory(prefix="featurepedia-export-") as tmp:
        folder = Path(tmp) / "export"
        export_data(scope, folder, fmt)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        return buffer.getvalue()
