"""config.yaml validates, typos are errors that name the key, and docs/config.md documents every key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from detector.config import Config, ConfigError, load_config
from tests.helpers.config_reference import CONFIG_YAML, DOCS, config_keys, nested_models, walk

SECTIONS = [name for name, field in Config.model_fields.items() if nested_models(field.annotation)]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_repository_config_yaml_validates() -> None:
    config = load_config(CONFIG_YAML)

    assert isinstance(config, Config)


def test_repository_config_yaml_names_every_section_and_key() -> None:
    raw = yaml.safe_load(CONFIG_YAML.read_text())
    text = CONFIG_YAML.read_text()

    assert set(raw) == set(Config.model_fields)
    missing = [key for key in config_keys() if f"{key.rsplit('.', 1)[-1]}:" not in text]
    assert missing == []


def test_no_file_means_defaults() -> None:
    assert load_config(None) == Config()


def test_walk_finds_keys_of_every_shape() -> None:
    keys = config_keys()

    assert "analysis.fps" in keys  # plain section
    assert {"detector.threshold", "detector.max_side", "detector.model_path"} <= set(keys)  # both backends
    if "cameras" in Config.model_fields:
        assert "cameras[].url" in keys  # list of sections
    assert len(keys) == len(set(keys))


def test_docs_document_every_key() -> None:
    text = DOCS.read_text()

    undocumented = [key for key in config_keys() if f"`{key}`" not in text]

    assert undocumented == [], "run: .venv/bin/python -m tests.helpers.config_reference"


def test_every_key_has_a_description() -> None:
    bare = [k.path for k in walk(Config) if not k.field.description and not k.path.endswith(".type")]

    assert bare == []


@pytest.mark.parametrize("section", SECTIONS)
def test_typo_in_a_section_is_an_error_naming_the_key(tmp_path: Path, section: str) -> None:
    field = Config.model_fields[section]
    body: object = {"thresholdd": 1}
    if len(nested_models(field.annotation)) > 1:  # a backend union: the typo sits beside its `type`
        body = {"type": Config().model_dump()[section]["type"], "thresholdd": 1}
    elif section == "cameras":
        body = [{"name": "door", "url": "rtsp://cam.local/live", "thresholdd": 1}]

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, {section: body}))

    message = str(caught.value)
    assert "thresholdd" in message and section in message
    assert "\n" not in message


def test_typo_at_the_top_level_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="analysys"):
        load_config(write(tmp_path, {"analysys": {"fps": 5}}))


def test_value_out_of_bounds_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"analysis\.fps"):
        load_config(write(tmp_path, {"analysis": {"fps": 0}}))


def test_cross_field_check(tmp_path: Path) -> None:
    # The uncertain band lies below the threshold (verdict `fake` starts at it), so it needs room there.
    with pytest.raises(ConfigError, match="uncertain_margin"):
        load_config(write(tmp_path, {"scoring": {"threshold": 0.05, "uncertain_margin": 0.1}}))
    config = load_config(write(tmp_path, {"scoring": {"threshold": 0.95, "uncertain_margin": 0.1}}))
    assert config.scoring.threshold == 0.95


def test_unreadable_or_non_mapping_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("analysis: {fps: [\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "broken.yaml")
