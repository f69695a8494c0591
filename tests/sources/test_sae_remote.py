"""SAEs named on the hub (saelens:RELEASE/SAE_ID, sparsify:ORG/REPO[/HOOKPOINT]): downloaded once into the data
dir, then read from there; offline and not downloaded, a clear error. No test here touches the network: the
hub calls are replaced (the online path) or must not be reached (the offline path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from featurepedia.errors import FeaturepediaError, UnavailableError
from featurepedia.sources import SourceError, source_for
from featurepedia.sources.sae import remote
from tests.sources.test_sae import D_SAE
from tests.sources.test_sparsify import save_sparsify, sparsify_encode

SPEC = "saelens:gpt2-small-res-jb/blocks.8.hook_resid_pre"


@pytest.fixture
def no_network(monkeypatch):
    """The hub is offline, and any download attempt fails the test."""
    import huggingface_hub
    from sae_lens import SAE

    def refuse(*args, **kwargs):
        pytest.fail("tried to download from the hub")

    monkeypatch.setattr(remote, "hub_offline", lambda: True)
    monkeypatch.setattr(SAE, "from_pretrained_with_cfg_and_sparsity", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


@pytest.mark.parametrize("spec", [SPEC, "sparsify:EleutherAI/sae-llama-3-8b-32x/layers.1",
                                  "sparsify:EleutherAI/sae-llama-3-8b-32x"])
def test_offline_and_not_downloaded_says_it_needs_internet_or_a_local_folder(data_dir, tiny_llama, no_network,
                                                                              spec):
    with pytest.raises(UnavailableError) as err:
        source_for(tiny_llama, "1-res-sae", sae_path=spec)
    message = str(err.value)
    assert isinstance(err.value, FeaturepediaError) and err.value.status == 503
    assert f"{spec} is not downloaded yet (looked in {data_dir / 'saes'}" in message
    assert "downloading it needs internet" in message and "HF_HUB_OFFLINE" in message
    assert "or pass a local folder instead: a SAELens folder (cfg.json + sae_weights.safetensors)" in message


def test_the_release_and_id_are_checked_offline(data_dir, tiny_llama, no_network):
    with pytest.raises(SourceError, match=r"'gpt2-small-res-j' is not a release of SAELens's pretrained SAE "
                                          r"directory; close ones: gpt2-small-res-jb"):
        source_for(tiny_llama, "1-res-sae", sae_path="saelens:gpt2-small-res-j/blocks.8.hook_resid_pre")
    with pytest.raises(SourceError, match=r"release gpt2-small-res-jb has no SAE id 'blocks.8.hook_resid_post'; it "
                                          r"has \d+, the closest: .*blocks.8.hook_resid_pre"):
        source_for(tiny_llama, "1-res-sae", sae_path="saelens:gpt2-small-res-jb/blocks.8.hook_resid_post")


@pytest.mark.parametrize(("spec", "message"), [
    ("saelens:gpt2-small-res-jb", "not of the form saelens:RELEASE/SAE_ID"),
    ("saelens:/blocks.8", "not of the form saelens:RELEASE/SAE_ID"),
    ("saelens:gpt2-small-res-jb/../../etc", r"'\.\.' is not a valid name part"),
    ("sparsify:EleutherAI", "not of the form sparsify:ORG/REPO or sparsify:ORG/REPO/HOOKPOINT"),
    ("sparsify:a/b/c/d", "not of the form sparsify:ORG/REPO"),
])
def test_malformed_specs(data_dir, tiny_llama, no_network, spec, message):
    with pytest.raises(SourceError, match=message):
        source_for(tiny_llama, "1-res-sae", sae_path=spec)


def test_saelens_download_is_saved_once_and_read_offline_after(data_dir, tiny_llama, monkeypatch):
    """SAELens's loader is called once (here it returns a small SAE instead of downloading); its save_model
    folder under the data dir is what we read, then and offline afterwards."""
    from sae_lens import SAE, TopKSAEConfig

    hook = "blocks.1.hook_resid_post"
    cfg = TopKSAEConfig(d_in=tiny_llama.d_model, d_sae=D_SAE, k=8).to_dict()
    sae = SAE.from_dict(cfg)
    with torch.no_grad():
        for param in sae.parameters():
            param.copy_(torch.randn(param.shape) * 0.3)
        sae.W_enc.data = sae.W_enc.data.T.contiguous().T  # a transposed view, as some converters leave
    calls = []

    def from_pretrained(release, sae_id, **kwargs):
        calls.append((release, sae_id, kwargs["dtype"]))
        return sae, {**cfg, "hook_name": hook}, None

    monkeypatch.setattr(remote, "hub_offline", lambda: False)
    monkeypatch.setattr(SAE, "from_pretrained_with_cfg_and_sparsity", from_pretrained)
    source = source_for(tiny_llama, "1-res-jb", sae_path=SPEC)
    assert calls == [("gpt2-small-res-jb", "blocks.8.hook_resid_pre", "float32")]
    folder = data_dir / "saes" / "saelens" / "gpt2-small-res-jb" / "blocks.8.hook_resid_pre"
    assert source.path == folder and (folder / "sae_weights.safetensors").is_file()
    assert source.hook_name == hook and source.config()["origin"] == SPEC
    assert not list(folder.parent.glob(".*partial*"))
    hidden = tiny_llama.run_to(hook, torch.tensor([tiny_llama.to_tokens("The quick brown fox.")]))
    with torch.no_grad():
        torch.testing.assert_close(source.encode(hidden), sae.encode(hidden), atol=1e-5, rtol=1e-4)

    monkeypatch.setattr(remote, "hub_offline", lambda: True)
    again = source_for(tiny_llama, "1-res-jb", sae_path=SPEC)
    assert len(calls) == 1 and again.path == folder
    torch.testing.assert_close(again.encode(hidden), source.encode(hidden))


def test_a_failed_download_is_an_unavailable_error(data_dir, tiny_llama, monkeypatch):
    from sae_lens import SAE

    def from_pretrained(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(remote, "hub_offline", lambda: False)
    monkeypatch.setattr(SAE, "from_pretrained_with_cfg_and_sparsity", from_pretrained)
    with pytest.raises(UnavailableError, match=r"could not download saelens:gpt2-small-res-jb/blocks.8.hook_resid_pre "
                                               r"from the Hugging Face hub \(ConnectionError: Name or service not "
                                               r"known\); downloading needs internet access"):
        source_for(tiny_llama, "1-res-jb", sae_path=SPEC)
    assert not (data_dir / "saes" / "saelens" / "gpt2-small-res-jb" / "blocks.8.hook_resid_pre").exists()


def test_sparsify_download_fetches_only_the_hook_point_folder(data_dir, tiny_llama, monkeypatch):
    import huggingface_hub

    calls = []
    written = {}

    def snapshot_download(repo_id, allow_patterns, local_dir):
        calls.append((repo_id, allow_patterns))
        hookpoint = allow_patterns[0].removesuffix("/*")
        if hookpoint == "layers.1":
            written.update(save_sparsify(Path(local_dir) / hookpoint, tiny_llama.d_model))
        return local_dir

    monkeypatch.setattr(remote, "hub_offline", lambda: False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    # No hook point folder in the spec: the source id's hook point names it.
    source = source_for(tiny_llama, "1-res-sae", sae_path="sparsify:EleutherAI/sae-tiny")
    assert calls == [("EleutherAI/sae-tiny", ["layers.1/*"])]
    assert source.path == data_dir / "saes" / "sparsify" / "EleutherAI" / "sae-tiny" / "layers.1"
    assert source.config()["format"] == "sparsify" and source.hook_name == "blocks.1.hook_resid_post"
    hidden = tiny_llama.run_to(source.hook_name, torch.tensor([tiny_llama.to_tokens("The quick brown fox.")]))
    torch.testing.assert_close(source.encode(hidden), sparsify_encode(written, hidden, 8), atol=1e-5, rtol=1e-4)

    monkeypatch.setattr(remote, "hub_offline", lambda: True)
    assert source_for(tiny_llama, "1-res-sae", sae_path="sparsify:EleutherAI/sae-tiny/layers.1").path == source.path
    assert len(calls) == 1

    monkeypatch.setattr(remote, "hub_offline", lambda: False)
    with pytest.raises(SourceError, match=r"the hub repo EleutherAI/sae-tiny has no sparsify SAE folder 'layers.0'"):
        source_for(tiny_llama, "0-res-sae", sae_path="sparsify:EleutherAI/sae-tiny")
