"""The org.bluez interfaces the simulator serves: methods and properties as in BlueZ's docs."""

from __future__ import annotations

from ble_lock.sim.dbusobj import Interface, Method, Prop

ADAPTER = Interface(
    name="org.bluez.Adapter1",
    methods=(
        Method(name="StartDiscovery"),
        Method(name="StopDiscovery"),
        Method(name="SetDiscoveryFilter", in_sig="a{sv}"),
        Method(name="GetDiscoveryFilters", out_sig="as"),
        Method(name="RemoveDevice", in_sig="o"),
    ),
    props=(
        Prop(name="Address", sig="s"),
        Prop(name="AddressType", sig="s"),
        Prop(name="Name", sig="s"),
        Prop(name="Alias", sig="s", writable=True),
        Prop(name="Class", sig="u"),
        Prop(name="Powered", sig="b", writable=True),
        Prop(name="Discoverable", sig="b", writable=True),
        Prop(name="DiscoverableTimeout", sig="u", writable=True),
        Prop(name="Pairable", sig="b", writable=True),
        Prop(name="PairableTimeout", sig="u", writable=True),
        Prop(name="Discovering", sig="b"),
        Prop(name="UUIDs", sig="as"),
        Prop(name="Modalias", sig="s"),
        Prop(name="Roles", sig="as"),
    ),
)

GATT_MANAGER = Interface(
    name="org.bluez.GattManager1",
    methods=(
        Method(name="RegisterApplication", in_sig="oa{sv}"),
        Method(name="UnregisterApplication", in_sig="o"),
    ),
)

ADV_MANAGER = Interface(
    name="org.bluez.LEAdvertisingManager1",
    methods=(
        Method(name="RegisterAdvertisement", in_sig="oa{sv}"),
        Method(name="UnregisterAdvertisement", in_sig="o"),
    ),
    props=(
        Prop(name="ActiveInstances", sig="y"),
        Prop(name="SupportedInstances", sig="y"),
        Prop(name="SupportedIncludes", sig="as"),
        Prop(name="SupportedSecondaryChannels", sig="as"),
    ),
)

DEVICE = Interface(
    name="org.bluez.Device1",
    methods=(
        Method(name="Connect"),
        Method(name="Disconnect"),
        Method(name="Pair"),
        Method(name="CancelPairing"),
        Method(name="ConnectProfile", in_sig="s"),
        Method(name="DisconnectProfile", in_sig="s"),
    ),
    props=(
        Prop(name="Address", sig="s"),
        Prop(name="AddressType", sig="s"),
        Prop(name="Name", sig="s"),
        Prop(name="Alias", sig="s", writable=True),
        Prop(name="Appearance", sig="q"),
        Prop(name="Paired", sig="b"),
        Prop(name="Bonded", sig="b"),
        Prop(name="Trusted", sig="b", writable=True),
        Prop(name="Blocked", sig="b", writable=True),
        Prop(name="LegacyPairing", sig="b"),
        Prop(name="Connected", sig="b"),
        Prop(name="UUIDs", sig="as"),
        Prop(name="Adapter", sig="o"),
        Prop(name="ServicesResolved", sig="b"),
        Prop(name="RSSI", sig="n"),
        Prop(name="TxPower", sig="n"),
        Prop(name="ManufacturerData", sig="a{qv}"),
        Prop(name="ServiceData", sig="a{sv}"),
    ),
)

SERVICE = Interface(
    name="org.bluez.GattService1",
    props=(
        Prop(name="UUID", sig="s"),
        Prop(name="Device", sig="o"),
        Prop(name="Primary", sig="b"),
        Prop(name="Includes", sig="ao"),
        Prop(name="Handle", sig="q"),
    ),
)

CHARACTERISTIC = Interface(
    name="org.bluez.GattCharacteristic1",
    methods=(
        Method(name="ReadValue", in_sig="a{sv}", out_sig="ay"),
        Method(name="WriteValue", in_sig="aya{sv}"),
        Method(name="AcquireWrite", in_sig="a{sv}", out_sig="hq"),
        Method(name="AcquireNotify", in_sig="a{sv}", out_sig="hq"),
        Method(name="StartNotify"),
        Method(name="StopNotify"),
    ),
    props=(
        Prop(name="UUID", sig="s"),
        Prop(name="Service", sig="o"),
        Prop(name="Value", sig="ay"),
        Prop(name="Notifying", sig="b"),
        Prop(name="Flags", sig="as"),
        Prop(name="WriteAcquired", sig="b"),
        Prop(name="NotifyAcquired", sig="b"),
        Prop(name="MTU", sig="q"),
        Prop(name="Handle", sig="q"),
    ),
)

DESCRIPTOR = Interface(
    name="org.bluez.GattDescriptor1",
    methods=(
        Method(name="ReadValue", in_sig="a{sv}", out_sig="ay"),
        Method(name="WriteValue", in_sig="aya{sv}"),
    ),
    props=(
        Prop(name="UUID", sig="s"),
        Prop(name="Characteristic", sig="o"),
        Prop(name="Value", sig="ay"),
        Prop(name="Flags", sig="as"),
        Prop(name="Handle", sig="q"),
    ),
)
