"""The data card of an export: README.md with YAML front matter (license, configs) and, in words, what each
table and column holds, how many rows, the model and source, and how it was made."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from featurepedia import __version__
from featurepedia.web.data_io.tables import TABLES

if TYPE_CHECKING:
    from featurepedia.web.data_io.export import ExportScope


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def front_matter(scope: ExportScope, counts: dict[str, int], fmt: str, license: str) -> dict[str, object]:
    meta: dict[str, object] = {
        "license": license, "pretty_name": f"Featurepedia: {scope.title}",
        "tags": ["interpretability", "neurons", "sparse-autoencoders", "featurepedia"],
        "size_categories": [_size_category(sum(counts.values()))],
    }
    if fmt == "parquet":  # the Hub's (and load_dataset's) way to name one config per table
        meta["configs"] = [{"config_name": t.name, "data_files": f"{t.name}.parquet"} for t in TABLES]
    return meta


def card_text(scope: ExportScope, counts: dict[str, int], fmt: str, license: str, made: datetime) -> str:
    lines = ["---", yaml.safe_dump(front_matter(scope, counts, fmt, license), sort_keys=False).rstrip(), "---", "",
             f"# Featurepedia: {scope.title}", "",
             "Human judgements and automatic scores of explanations of features (neurons or SAE features) of a "
             "language model, collected by a Featurepedia site: explanations, votes, This-vs-That pairwise "
             "choices, Odd-one-out answers, human simulations (Predict-the-activations) and automatic scores.",
             "", "## Model and sources", ""]
    for s in scope.sources:
        lines.append(f"- `{s}`: {s.kind_label} at hook point `{s.hook_name}` of `{s.model.slug}`"
                     f"{f' ({s.model.name})' if s.model.name and s.model.name != s.model.slug else ''}, "
                     f"{s.n_features:,} features" + (f"; dashboards from {s.n_tokens:,} tokens of {s.corpus}"
                                                      if s.n_tokens else ""))
    if scope.campaign is not None:
        lines += ["", f"Campaign `{scope.campaign.slug}`: {scope.campaign.title}. The answer tables (comparisons, "
                  "odd-one-out, predictions) hold the answers given in this campaign; explanations, votes and "
                  "scores are all those of its features."]
    lines += ["", "## How to load it", "", "```python"]
    if fmt == "parquet":
        lines += ["import datasets, pyarrow.parquet as pq", 'votes = datasets.load_dataset("PATH", "votes")',
                  'votes = pq.read_table("PATH/votes.parquet")']
    else:
        lines += ["import datasets", 'data = datasets.load_from_disk("PATH")  # a DatasetDict, one split per table',
                  'votes = data["votes"]']
    lines += ["```", "", "## Tables", ""]
    for t in TABLES:
        lines += [f"### {t.name} ({counts.get(t.name, 0):,} rows)", "", t.meaning, "", "| column | type | meaning |",
                  "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {c.meaning} |" for c in t.columns]
        lines.append("")
    lines += ["## How it was made", "",
              f"Exported by `featurepedia export-data` (Featurepedia {__version__}) on {made:%Y-%m-%d %H:%M} UTC "
              "from the site's database, rows in id order. Explanations hidden by moderation are "
              + ("included (status hidden)." if scope.include_hidden else "left out, with their votes, "
                 "comparisons, predictions and scores."),
              "", "## Privacy", "",
              "No e-mail address, user name or password is exported. A person is shown by the display name they "
              "chose for leaderboards, else by a stable anonymous id: a keyed hash (HMAC-SHA256 with the site's "
              "secret key) of their account id (`anon-...`) or visitor token (`visitor-...`). The same person has "
              "the same id in every table and every export of the site; the id cannot be traced back without "
              "the key.", "", "## License", "", f"`{license}`.", ""]
    return "\n".join(lines)


def write_card(out: Path, scope: ExportScope, counts: dict[str, int], fmt: str, license: str,
               made: datetime) -> Path:
    path = out / "README.md"
    path.write_text(card_text(scope, counts, fmt, license, made), encoding="utf-8")
    return path
