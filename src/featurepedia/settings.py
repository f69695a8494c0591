"""One typed settings object for the CLI, the library and Django.

Every setting is read from an environment variable ``FEATUREPEDIA_<NAME>``, has a default (or none when it
is a secret) and a help text; ``docs/settings.md`` lists them all (a test keeps it in step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from featurepedia.errors import FeaturepediaError

PLACEHOLDER_SECRET = "insecure-embedded-mode-secret-change-me"
# The embedded model (lm/embedded.py) and the source `featurepedia demo` builds from it. Defined here, not in
# lm, because everything imports settings and settings must not import torch.
DEFAULT_MODEL_ID = "smollm2-135m"
DEFAULT_SOURCE_ID = "6-mlp"


class SettingsError(FeaturepediaError, ValueError):
    """A setting has a value that cannot be used."""


def _setting(default: Any, help: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Featurepedia's settings; build with :meth:`Settings.from_env`."""

    data_dir: Path = _setting(
        Path("data"), "Folder for the converted model cache, dashboard runs and the default SQLite file."
    )
    database_url: str = _setting(
        "", "Database URL, e.g. postgres://user@127.0.0.1:5432/db. Empty: SQLite file in the data dir."
    )
    mode: str = _setting(
        "embedded", "embedded (SQLite, in-process tasks, debug-friendly) or production (refuses placeholder secrets)."
    )
    secret_key: str = _setting(
        PLACEHOLDER_SECRET, "Django secret key. Production mode refuses the placeholder.", secret=True
    )
    allowed_hosts: str = _setting("127.0.0.1,localhost", "Comma-separated host names the site answers to.")
    public_url: str = _setting(
        "", "The site's address as users see it, e.g. https://featurepedia.example.org, when it runs behind a "
        "reverse proxy: its host is allowed, forms posted from it pass CSRF checks, and with https the proxy's "
        "X-Forwarded-Proto header (which the proxy must set) marks requests secure and cookies are secure-only.")
    port: int = _setting(3000, "Port of `featurepedia serve` (3000, as Neuronpedia's clients expect).")
    threads: int = _setting(8, "Threads per web process: the embedded server's, and each worker's of "
                            "`featurepedia stack` (gunicorn).")
    web_workers: int = _setting(2, "Web processes (gunicorn workers) that `featurepedia stack` starts; about one "
                                "per core, since each also runs FEATUREPEDIA_THREADS threads.")
    web_timeout: int = _setting(60, "Seconds a web request may run before `featurepedia stack`'s gunicorn "
                                "restarts its worker (live inference waits up to FEATUREPEDIA_INFERENCE_TIMEOUT).")
    db_pool_size: int = _setting(
        8, "PostgreSQL connections each web or worker process may hold open (psycopg's pool); at least "
        "FEATUREPEDIA_THREADS, or threads wait for one. The database's max_connections must cover all processes.")
    db_connect_timeout: int = _setting(
        5, "Seconds to wait for a PostgreSQL connection (new, or from the pool) before the request fails with a "
        "clear 503 instead of hanging.")
    inference_url: str = _setting(
        "", "Address of a `featurepedia inference` process that the web processes send live inference to, e.g. "
        "http://127.0.0.1:3001. Empty: inference runs inside the web process (embedded mode).")
    inference_timeout: float = _setting(30.0, "Seconds an inference request may wait and run before it is "
                                        "answered with 504 (in-process, and for `featurepedia inference`).")
    inference_queue_size: int = _setting(32, "Inference requests that may wait per model; one more is answered "
                                         "with 503 and Retry-After.")
    generation_dtype: str = _setting(
        "auto", "Number format of the model copy that steering generates with: auto (bfloat16 where the CPU "
        "computes it natively, else float32), float32 or bfloat16. Each decoding step reads every weight, so "
        "bfloat16 about doubles steering's tokens per second; activations and dashboards always use float32.")
    default_model: str = _setting(DEFAULT_MODEL_ID, "Model id built and shown by `featurepedia demo`.")
    default_source: str = _setting(DEFAULT_SOURCE_ID, "Source id built by `featurepedia demo`.")
    demo_tokens: int = _setting(200_000, "Corpus tokens used by `featurepedia demo` to build the default source and each SAE shipped for its model.")
    torch_threads: int = _setting(0, "torch CPU threads; 0 lets torch choose (all cores).")
    api_rate_anonymous: int = _setting(
        120, "API requests one IP address may make per rate window without a valid API key (0: no limit). Behind a "
        "reverse proxy (FEATUREPEDIA_PUBLIC_URL set) the address is the last X-Forwarded-For entry, which the proxy "
        "must append.")
    api_rate_key: int = _setting(1200, "API requests one valid API key may make per rate window (0: no limit).")
    api_rate_window: int = _setting(
        60, "Length in seconds of the API's fixed rate-limit window; counts live in the cache (Redis when "
        "FEATUREPEDIA_REDIS_URL is set, so all web processes share them).")
    redis_url: str = _setting("", "Redis URL, e.g. redis://127.0.0.1:6379/0: the cache shared by all web processes, "
                              "which also holds sessions (backed by the database) and the API's rate-limit counts. "
                              "Empty: a per-process memory cache.")
    search_index_dir: str = _setting(
        "", "Folder of this host's explanation-search index (a cache of the database, rebuilt when missing). "
        "Empty: <data dir>/search. With several web hosts sharing a network data dir, point it at local disk.")
    openai_base_url: str = _setting("https://api.openai.com/v1", "OpenAI-compatible endpoint for the openai "
                                    "explainer and LLM scorers (OpenAI, vLLM, Ollama, llama.cpp server).")
    openai_api_key: str = _setting("", "API key sent to that endpoint (empty for local servers).", secret=True)
    openai_model: str = _setting("gpt-4o-mini", "Model name asked of that endpoint.")
    openai_price_input: float = _setting(0.0, "USD per million prompt tokens, for cost records (0: unknown).")
    openai_price_output: float = _setting(0.0, "USD per million completion tokens, for cost records.")
    email_verification: str = _setting(
        "", "mandatory, optional or none; empty: optional in embedded mode, mandatory in production.")
    email_from: str = _setting("Featurepedia <noreply@localhost>", "Sender address of account e-mails.")
    smtp_host: str = _setting("", "SMTP server for account e-mails; empty: e-mails are written to data/emails.")
    smtp_port: int = _setting(587, "SMTP port.")
    smtp_user: str = _setting("", "SMTP user name.")
    smtp_password: str = _setting("", "SMTP password.", secret=True)
    smtp_tls: bool = _setting(True, "Use STARTTLS with the SMTP server.")
    github_client_id: str = _setting("", "GitHub OAuth app client id (with the secret, enables GitHub sign-in).")
    github_secret: str = _setting("", "GitHub OAuth app secret.", secret=True)
    google_client_id: str = _setting("", "Google OAuth client id (with the secret, enables Google sign-in).")
    google_secret: str = _setting("", "Google OAuth client secret.", secret=True)
    apple_client_id: str = _setting("", "Sign in with Apple service id (with key id, team id and key).")
    apple_key_id: str = _setting("", "Sign in with Apple key id.")
    apple_team_id: str = _setting("", "Apple developer team id.")
    apple_private_key: str = _setting("", "Sign in with Apple private key (PEM text).", secret=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every setting from ``FEATUREPEDIA_*`` environment variables."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"FEATUREPEDIA_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f.name, f.default, raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`SettingsError` for values that cannot work."""
        if self.mode not in ("embedded", "production"):
            raise SettingsError(f"FEATUREPEDIA_MODE is {self.mode!r}; use 'embedded' or 'production'.")
        if self.email_verification not in ("", "mandatory", "optional", "none"):
            raise SettingsError(f"FEATUREPEDIA_EMAIL_VERIFICATION is {self.email_verification!r}; use mandatory, "
                                "optional or none.")
        if self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise SettingsError(f"FEATUREPEDIA_REDIS_URL is {self.redis_url!r}; use redis://host:port/db "
                                "(rediss:// for TLS, unix:///path/to/socket).")
        if self.inference_url and urlsplit(self.inference_url).scheme not in ("http", "https"):
            raise SettingsError(f"FEATUREPEDIA_INFERENCE_URL is {self.inference_url!r}; use http://host:port of a "
                                "`featurepedia inference` process, or leave it empty for in-process inference.")
        if self.generation_dtype not in ("auto", "float32", "bfloat16"):
            raise SettingsError(f"FEATUREPEDIA_GENERATION_DTYPE is {self.generation_dtype!r}; use auto, float32 or "
                                "bfloat16.")
        if not self.inference_timeout > 0 or self.inference_queue_size < 1:
            raise SettingsError("FEATUREPEDIA_INFERENCE_TIMEOUT must be above 0 and FEATUREPEDIA_INFERENCE_QUEUE_SIZE "
                                f"at least 1; they are {self.inference_timeout} and {self.inference_queue_size}.")
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
                    or parts.query or parts.fragment:
                raise SettingsError(f"FEATUREPEDIA_PUBLIC_URL is {self.public_url!r}; use the site's origin, "
                                    "e.g. https://featurepedia.example.org (scheme and host, no path).")
        for name in ("api_rate_anonymous", "api_rate_key"):
            if getattr(self, name) < 0:
                raise SettingsError(f"FEATUREPEDIA_{name.upper()} is {getattr(self, name)}; use 0 (no limit) or a "
                                    "positive number of requests per window.")
        for name in ("web_workers", "web_timeout", "db_pool_size", "db_connect_timeout", "threads"):
            if getattr(self, name) < 1:
                raise SettingsError(f"FEATUREPEDIA_{name.upper()} is {getattr(self, name)}; it must be at least 1.")
        if self.api_rate_window < 1:
            raise SettingsError(f"FEATUREPEDIA_API_RATE_WINDOW is {self.api_rate_window}; use a window of at least "
                                "1 second (60 counts requests per minute).")
        if self.mode == "production" and (not self.secret_key or self.secret_key == PLACEHOLDER_SECRET):
            raise SettingsError(
                "FEATUREPEDIA_SECRET_KEY is the placeholder; production mode needs a real secret "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
            )

    @property
    def database(self) -> str:
        """The database URL, defaulting to SQLite inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'featurepedia.sqlite3').resolve()}"

    @property
    def search_dir(self) -> Path:
        """The explanation-search index's folder."""
        return Path(self.search_index_dir).expanduser() if self.search_index_dir else self.data_dir / "search"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"


def _convert(name: str, default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise SettingsError(f"FEATUREPEDIA_{name.upper()} is {raw!r}; use true or false.")
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"FEATUREPEDIA_{name.upper()} is {raw!r}; it must be a whole number.") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"FEATUREPEDIA_{name.upper()} is {raw!r}; it must be a number, e.g. 0.15.") from None
    if isinstance(default, Path):
        return Path(raw).expanduser()
    return raw


def settings_help() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for docs and `--help`."""
    rows = []
    for f in fields(Settings):
        if f.name == "secret_key":
            default = "(secret; a placeholder in embedded mode only)"
        elif f.metadata["secret"]:
            default = "(secret, no default)"
        else:
            default = str(f.default) or "(empty)"
        rows.append((f"FEATUREPEDIA_{f.name.upper()}", default, f.metadata["help"]))
    return rows


def settings_markdown() -> str:
    """docs/settings.md, generated (``make docs``); a test checks the file is up to date."""
    lines = ["# Settings", "", "Every setting is an environment variable; `featurepedia --help` prints the same list.",
             "", "| Variable | Default | What it does |", "|---|---|---|"]
    for name, default, text in settings_help():
        lines.append(f"| `{name}` | `{default}` | {text} |")
    return "\n".join(lines) + "\n"


def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    global _SETTINGS
    if _SETTINGS is None:
        _SETTINGS = Settings.from_env()
    return _SETTINGS


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    global _SETTINGS
    _SETTINGS = None


_SETTINGS: Settings | None = None
