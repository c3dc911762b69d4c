"""Issue 16 item 1: the gateway's MQTT settings, from ``--mqtt URL`` and the ``[mqtt]``
table; bad ones are typed errors; the password never shows in a repr or a log URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import InvalidInputError
from ble_lock.gateway.config import PASSWORD_ENV, GatewayConfig, MqttSettings
from ble_lock.gateway.process import with_mqtt_url


def _base(**mqtt: object) -> dict[str, object]:
    raw: dict[str, object] = {"state": "s.json", "lock": [{"id": "0BADC0DE"}]}
    if mqtt:
        raw["mqtt"] = mqtt
    return raw


def test_url_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    s = MqttSettings.from_url("mqtt://broker.lan", gateway_id="hall")
    assert (s.host, s.port, s.tls, s.username, s.password) == ("broker.lan", 1883, False,
                                                               None, None)
    s = MqttSettings.from_url("mqtts://gw:s%40cret@broker.lan", gateway_id="hall")
    assert (s.port, s.tls, s.username, s.password) == (8883, True, "gw", "s@cret")
    assert "s@cret" not in repr(s)
    assert "cret" not in s.redacted_url()
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert MqttSettings.from_url("mqtt://gw@h:1884").password == "from-env"


@pytest.mark.parametrize("url", ["http://h", "mqtt://", "mqtt://h/path", "mqtt://h:99999",
                                 "mqtt://h?x=1"])
def test_bad_urls_are_typed_errors(url: str) -> None:
    with pytest.raises(InvalidInputError):
        MqttSettings.from_url(url)


@pytest.mark.parametrize("field", ["gateway_id", "topic", "discovery_prefix"])
def test_wildcards_are_refused_in_topics(field: str) -> None:
    with pytest.raises(InvalidInputError):
        MqttSettings.from_url("mqtt://h", **{field: "a/#"})


def test_the_mqtt_table(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("hunter2\n")
    cfg = GatewayConfig.from_mapping(_base(url="mqtt://gw@h", password_file="pw",
                                           gateway_id="hall", topic="home/locks",
                                           discovery_prefix="ha"), base=tmp_path)
    assert cfg.mqtt is not None
    assert (cfg.mqtt.password, cfg.mqtt.gateway_id, cfg.mqtt.topic,
            cfg.mqtt.discovery_prefix) == ("hunter2", "hall", "home/locks", "ha")
    assert GatewayConfig.from_mapping(_base()).mqtt is None
    with pytest.raises(InvalidInputError):
        GatewayConfig.from_mapping(_base(url="mqtt://h", retain_commands=True))
    # --mqtt overrides the broker and keeps the file's other options
    moved = with_mqtt_url(cfg, "mqtts://other:8884")
    assert moved.mqtt is not None
    assert (moved.mqtt.host, moved.mqtt.port, moved.mqtt.tls, moved.mqtt.gateway_id,
            moved.mqtt.password) == ("other", 8884, True, "hall", "hunter2")
    assert with_mqtt_url(cfg, None) is cfg
